"""What every benchmark needs: a throwaway database per backend, the machine's description, the
library's raw read-and-decode rate, a process's own peak memory, and percentiles.

Absolute figures on a shared machine are noisy; the ratios, measured back to back in one run,
are the point.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

POSTGRES_URL = os.environ.get(
    "INCUBATOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


def machine() -> str:
    """The processor, its cores and the Python that ran the figures."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def database(backend: str, folder: Path) -> tuple[str, Callable[[], None]]:
    """A new, empty database of `backend` (a file in `folder`, or a PostgreSQL schema of its
    own) and the function that drops it."""
    if backend == "sqlite":
        name = f"bench-{uuid.uuid4().hex[:8]}.sqlite3"
        path = folder / name

        def remove() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        return f"sqlite:///{path}", remove
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"

    def drop() -> None:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    return f"{POSTGRES_URL}?schema={schema}", drop


def raw_read_and_decode(recorder: Any, mapper: Any | None, batch: int = 5000) -> float:
    """Events/s at which the eventsourcing library reads a whole log and decodes every event
    (with no `mapper`: reads it only, as `audit verify` does, which hashes the stored bytes)."""
    started, count, position = time.perf_counter(), 0, 0
    while True:
        notifications = recorder.select_notifications(
            start=position, limit=batch, inclusive_of_start=False
        )
        if not notifications:
            return count / (time.perf_counter() - started)
        if mapper is not None:
            for notification in notifications:
                mapper.to_domain_event(notification)
        count += len(notifications)
        position = notifications[-1].id


# A process's peak RSS (ru_maxrss) starts from the high-water mark of the memory it was exec'd
# from: a child of a benchmark grown by a million events would report the benchmark's peak. So a
# small Python process starts the measured command and reports its own child's figures.
_MEASURED = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
print(json.dumps({
    "returncode": done.returncode,
    "seconds": time.perf_counter() - started,
    "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    "stdout": done.stdout.decode(),
    "stderr": done.stderr.decode()[-2000:],
}))
"""


def measured(command: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Runs `command` as a process of its own: its return code, wall seconds, peak resident
    memory in MiB (`peak_rss_mib`) and output. Fails when the command fails."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED, *command],
        env={**os.environ, **(env or {})},
        check=True,
        capture_output=True,
    )
    figures: dict[str, Any] = json.loads(done.stdout)
    if figures["returncode"] != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {figures['stderr']}")
    figures["peak_rss_mib"] = figures.pop("maxrss_kib") / 1024
    return figures


def incubator(*args: str) -> list[str]:
    """The command line, as a user runs it, from this environment."""
    return [sys.executable, "-m", "cli.main", *args]


def percentiles(milliseconds: Sequence[float]) -> dict[str, float]:
    """p50 and p99 (nearest rank) of a sample, in ms."""
    ordered = sorted(milliseconds)
    rank = max(0, min(len(ordered) - 1, round(0.99 * len(ordered)) - 1))
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[rank], 3),
        "samples": len(ordered),
    }


def section_arguments(doc: str) -> argparse.ArgumentParser:
    """A section's own command line: --backend and --out; the section adds its sizes."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    return parser


def run_backends(args: argparse.Namespace, run: Callable[[str], Any]) -> list[Any]:
    """`run` on the backends the arguments chose; the runs written to --out, if given."""
    runs = [run(b) for b in (BACKENDS if args.backend == "both" else [args.backend])]
    if args.out:
        results = {"machine": machine(), "runs": runs}
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return runs
