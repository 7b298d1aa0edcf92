"""Whole command-line calls, as a caseworker waits for them: each `incubator` call a process of
its own, from its start to its exit (imports, opening the database, catching up, the answer).

    .venv/bin/python -m benchmarks.calls --database-url sqlite:///park.sqlite3 \\
        --settings park.toml --rounds 20
    .venv/bin/python -m benchmarks.calls ... --executable /elsewhere/.venv/bin/incubator

On a log of `benchmarks/generate.py` (the goals are the 20,000-organization one's): each round
runs every call once, in an order turned by one each round, so that no call always follows the
same one; each call's figure is the median of the rounds, with the spread (min and max) and the
median CPU time (what the call cost, whatever else the machine ran). `--executable` times
another build of the command line on the same database (the code before a change, say).
Without --database-url a small park is generated first (a few minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Each call, and its goal in seconds (issue #19): --help; a case (a resident organization: the
# generated park's last day leaves some); a command that writes (the evaluation of a resident's
# services, which may be recorded again and again); every list a page of; every case as JSON.
GOALS = {
    "--help": 0.15,
    "org show": 0.20,
    "org record-service-evaluation": 0.30,
    "org list": 0.30,
    "org list --stage": 0.30,
    "org find": 0.30,
    "report due": 0.30,
    "report assignments": 0.30,
    "party branches": 0.30,
    "org list --all --json": 1.0,
}


@dataclass(frozen=True)
class Park:
    url: str
    settings: str | None


def _calls(park: Park) -> dict[str, list[str]]:
    """The arguments of each call, on cases of this park."""
    from commands.bootstrap import bootstrap

    system = bootstrap(park.url, park.settings)
    try:
        system.read_models.catch_up()
        shown = system.read_models.caseload(stage="resident", limit=1)
        if not shown:
            raise SystemExit("the park has no resident organization to call on")
        name = str(shown[0]["name"])
    finally:
        system.close_all()
    review = ["--score", "王芳=80", "--score", "李强=85", "--actor", "李娜"]
    return {
        "--help": ["--help"],
        "org show": ["org", "show", shown[0]["id"]],
        "org record-service-evaluation": [
            *("org", "record-service-evaluation", shown[0]["id"], *review)
        ],
        "org list": ["org", "list"],
        "org list --stage": ["org", "list", "--stage", "incubating"],
        "org find": ["org", "find", name[: max(2, len(name) // 3)]],
        "report due": ["report", "due"],
        "report assignments": ["report", "assignments"],
        "party branches": ["party", "branches"],
        "org list --all --json": ["org", "list", "--json"],
    }


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user and system) and exit status of one whole process."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.stderr is not None:
        child.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, child.returncode


def run(park: Park, rounds: int, executable: list[str] | None = None) -> dict[str, Any]:
    if executable is None:
        _compile_ours()
    command = executable or _ours()
    calls = _calls(park)
    env = {**os.environ, "INCUBATOR_DATABASE_URL": park.url}
    if park.settings:
        env["INCUBATOR_SETTINGS"] = park.settings
    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    failed: dict[str, int] = {}
    for name in names:  # a warm-up each: the files in the page cache, as on a working day
        _timed([*command, *calls[name]], env)
    for round_ in range(rounds):
        turned = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in turned:
            wall, used, status = _timed([*command, *calls[name]], env)
            times[name].append(wall)
            cpu[name].append(used)
            if status != 0:
                failed[name] = status
    figures = {
        name: {
            "median_s": round(statistics.median(times[name]), 3),
            "min_s": round(min(times[name]), 3),
            "max_s": round(max(times[name]), 3),
            # on a machine shared with other work a process also waits for a core: its CPU
            # time is what the command itself cost
            "cpu_median_s": round(statistics.median(cpu[name]), 3),
            "goal_s": GOALS[name],
            "met": statistics.median(times[name]) <= GOALS[name],
        }
        for name in names
    }
    return {
        "database": park.url.split("///")[-1].rsplit("/", 1)[-1],
        "rounds": rounds,
        "calls": figures,
        "failed": failed,
    }


def _compile_ours() -> None:
    """This checkout's modules compiled ahead, as an installed package's are (and as
    scripts/setup does): with PYTHONDONTWRITEBYTECODE set, each call would compile them."""
    import compileall

    root = Path(__file__).resolve().parent.parent
    for package in (
        "lifecycle",
        "commands",
        "projections",
        "schedules",
        "store",
        "cli",
        "api",
        "web",
    ):
        compileall.compile_dir(root / package, quiet=1)


def _ours() -> list[str]:
    script = Path(sys.executable).parent / "incubator"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]


def small_park(folder: Path, organizations: int = 300) -> Park:
    """A park generated for the quick run: `organizations` over half a year."""
    url = f"sqlite:///{folder / 'park.sqlite3'}"
    settings = folder / "park.toml"
    subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.generate"),
            *("--organizations", str(organizations), "--years", "0.5", "--quiet"),
            *("--database-url", url, "--settings-out", str(settings)),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return Park(url, str(settings))


def show(result: dict[str, Any]) -> None:
    print(f"{result['database']}, median of {result['rounds']} rounds")
    for name, f in result["calls"].items():
        mark = "met" if f["met"] else "MISSED"
        print(
            f"  {name:<29} {f['median_s']:>6.3f} s  ({f['min_s']:.3f}–{f['max_s']:.3f})  "
            f"cpu {f.get('cpu_median_s', 0):.3f} s  goal ≤ {f['goal_s']} s {mark}"
        )
    if result["failed"]:
        print(f"  calls that failed (exit status): {result['failed']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a park's database (default: a small one, made)")
    parser.add_argument("--settings", help="its settings file (generate.py --settings-out)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--executable", help="another `incubator` to time on the same database")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    executable = [args.executable] if args.executable else None
    if args.database_url:
        result = run(Park(args.database_url, args.settings), args.rounds, executable)
    else:
        with tempfile.TemporaryDirectory(prefix="incubator-bench-calls-") as folder:
            result = run(small_park(Path(folder)), args.rounds, executable)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        show(result)


if __name__ == "__main__":
    main()
