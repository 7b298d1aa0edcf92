"""The whole command line, fuzzed (#20): every command and every option, found by walking the
click tree (a command added tomorrow is fuzzed too), given generated arguments through the real
`incubator` executable on a real SQLite file.

Whatever it is given, a command ends with one of the README's exit codes (0-4), never with a
traceback; one that did not succeed recorded no event; and afterwards the read models hold no
anomaly and the caseload equals a rebuild of it.

INCUBATOR_FUZZ_EXAMPLES sets how many command lines each command is given (default 3: about
175 in all, a few minutes).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import cli
from tests.test_cli import COMMAND

EXAMPLES = int(os.environ.get("INCUBATOR_FUZZ_EXAMPLES", "3"))
EXIT_CODES = {0, 1, 2, 3, 4}


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    params: tuple[click.Parameter, ...]
    follows: bool  # runs until SIGTERM (a follower, the scheduler): stopped after a while

    def __repr__(self) -> str:
        return " ".join(self.path)


def commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> Iterator[Command]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            follows = "SIGTERM" in (command.help or "")
            # `demo --serve` serves the web application until stopped: `serve` is fuzzed itself
            params = tuple(p for p in command.params if (name, p.name) != ("demo", "serve"))
            yield Command((*path, name), params, follows)


COMMANDS = list(commands())

# ---- values ------------------------------------------------------------------------------------

CONTROLS = "\x01\x07\x08\t\n\r\x1b\x7f\x85\x9b\u200b\u200c\u200d\u2060\ufeff\u202e\u2066\u2028"
NASTY = [
    "", " ", "-", "--", "-1", "-0", "0", "+3", "3000000000", "9999999999999999999999999",
    "-9223372036854775809", "1e309", "0E+1000000", "NaN", "nan", "inf", "-inf", "٨٠", "8_0",
    "0x10", "1.005", "100.001", "=", "王建国=", "=80", "王建国=NaN", "王建国=-0", "王建国=٨٠",
    "0001-01-01", "9999-12-31", "2014-02-30", "2014-13-01", "20140101", "2014-1-1", "today",
    "2026-11-12T09:00+08:00", "9999-12-31T23:59", "0000", "ffff", "FFFFFFFF",
    "ffffffff-ffff-ffff-ffff-ffffffffffff", "gggg", "\x1b[2J\x1b]0;title\x07", "\u202eevil",
    "\u200b\u200b", "a\u2028b", "[bold red]x[/]", "%s%n", "../../etc/passwd", "~",
    "x" * 100_000, "爱" * 40_000, "f" * 100_000, "1" * 5_000,
]  # fmt: skip
BYTES = [b"\xff\xfe", b"\xc3", b"a\xed\xa0\x80b", b"\x80abc", "爱心".encode("gbk")]


def texts() -> st.SearchStrategy[bytes]:
    """Values a person or a script might pass, and worse."""
    return (
        st.one_of(
            st.sampled_from(NASTY),
            st.text(
                st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20
            ),
            st.text(st.sampled_from(CONTROLS + "ab 爱心=-.:0123456789"), max_size=12),
            st.integers(-(10**30), 10**30).map(str),
            st.floats().map(str),
            st.dates().map(str),
        ).map(lambda s: s.encode("utf-8"))
        | st.sampled_from(BYTES)
        | st.binary(min_size=1, max_size=8).filter(lambda b: b"\x00" not in b)
    )


# What a caseworker would type for each option: without these, nothing would get far enough
# to be recorded, and the fuzz would only test the door.
PLAUSIBLE: dict[str, list[str]] = {
    "--name": ["爱心志愿者协会", "阳光助残服务队", "主园区联合党支部"],
    "--field": ["公益慈善", "charity", "社区服务"],
    "--site": ["main", "branch"],
    "--port": ["0"],  # serve: any free port
    "--contact": ["张伟"],
    "--party-members": ["2", "0"],
    "--on": ["2014-01-06", "2014-01-08", "2014-02-20", "2014-03-03", "2014-08-05", "2015-03-10"],
    "--actor": ["李娜", "王芳"],
    "--reason": ["补录材料"],
    "--caseworker": ["王芳"],
    "--note": ["走访: 团队 12 人"],
    "--service": ["协助竞标政府购买服务"],
    "--score": ["王建国=82", "刘慧=78", "赵志强=85", "王建国=52"],
    "--workspace": ["M-01", "M-02", "B-01"],
    "--to": ["2014-03-01"],
    "--formal": ["2", "3"],
    "--probationary": ["1"],
    "--transferred": ["1", "2"],
    "--instructor": ["刘老师"],
    "--stars": ["4"],
    "--days": ["14"],
    "--now": ["2026-11-12T09:00"],
    "--for": ["王芳", "园区主任"],
    "--until": ["2015-12-31"],
    "--as-of": ["2014-12-31"],
    "--as-known-on": ["2026-12-01T09:00"],
    "--interval": ["0.2", "1"],
}


@dataclass
class Park:
    """The database under test, and what exists in it (ids that commands may name)."""

    folder: Path
    env: dict[str, str]
    ids: list[str]
    branch: str

    def run(self, *args: bytes | str, stop_after: float | None = None) -> Any:
        argv = [a if isinstance(a, bytes) else a.encode() for a in (*COMMAND, *args)]
        process = subprocess.Popen(
            argv,
            env=self.env,
            cwd=self.folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            out, err = process.communicate(timeout=stop_after or 180)
        except subprocess.TimeoutExpired:
            if stop_after is None:
                process.kill()
                raise
            process.send_signal(signal.SIGTERM)  # how a follower is stopped
            out, err = process.communicate(timeout=60)
        return subprocess.CompletedProcess(argv, process.returncode, out, err)

    def events(self) -> int:
        with sqlite3.connect(self.folder / "park.sqlite3") as db:
            return int(db.execute("SELECT count(*) FROM stored_events").fetchone()[0])


def plausible(param: click.Parameter, park: Park) -> list[str]:
    name = param.opts[0] if isinstance(param, click.Option) else param.name or ""
    if isinstance(param.type, click.Choice):
        return [str(c) for c in param.type.choices]
    named = {
        "case_ref": [*park.ids, *(i[:8] for i in park.ids)],
        "org": [*park.ids, *(i[:8] for i in park.ids)],
        "branch_ref": [park.branch, "主园区联合党支部"],
        "--branch": [park.branch],
        "names": ["caseload", "party", "due_dates"],
        "file": ["files/dossier.json"],
        "text": ["爱心"],
    }
    for path in ("--out", "--csv", "--checkpoint", "--database"):
        named[path] = [f"files/{path[2:]}.out", "files/missing/folder/x"]
    return named.get(name) or PLAUSIBLE.get(name, ["1"])


def is_path(param: click.Parameter) -> bool:
    """A file the command reads or writes: kept inside the test's folder, whatever is given."""
    names = {"--out", "--csv", "--checkpoint", "--database", "file"}
    return isinstance(param.type, click.Path) or (param.opts[0] in names) or param.name in names


def inside(value: bytes) -> bytes:
    return b"files/" + value.replace(b"..", b"__").lstrip(b"/~")


@st.composite
def command_lines(draw: st.DrawFn, command: Command, park: Park) -> list[bytes]:
    """Arguments for `command`: each option present or not, each value plausible or
    generated, several of those that take several, sometimes without its value."""
    argv: list[bytes] = [p.encode() for p in command.path]
    for param in command.params:
        if not draw(st.booleans()) and not (param.required and draw(st.integers(0, 3))):
            continue
        if isinstance(param, click.Option) and param.is_flag:
            argv.append(param.opts[0].encode())
            continue
        count = draw(st.integers(1, 3)) if param.multiple or param.nargs == -1 else 1
        for _ in range(count):
            nasty = draw(st.integers(0, 3)) == 0  # else plausible: to get past the door
            value = draw(
                texts() if nasty else st.sampled_from(plausible(param, park)).map(str.encode)
            )
            if is_path(param):
                value = inside(value)
            if isinstance(param, click.Option):
                argv.append(param.opts[0].encode())
                if draw(st.integers(0, 20)) == 0:
                    continue  # the value left out
            argv.append(value)
    if draw(st.integers(0, 10)) == 0:  # the top group's options
        top = draw(
            st.sampled_from(
                [
                    [b"--settings", inside(draw(texts()))],
                    [b"--database", b"postgresql:/u:s3cr3t@nohost.invalid/db"],
                    [b"--database", b"sqlite:///:memory:"],
                    [b"--database", b"mysql://u:s3cr3t@h/d"],
                ]
            )
        )
        argv = top + argv
    return argv


@pytest.fixture(scope="module")
def park(tmp_path_factory: pytest.TempPathFactory) -> Park:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "files").mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("INCUBATOR_") and k != "PGAPPNAME"
    }
    env |= {
        "INCUBATOR_DATABASE_URL": f"sqlite:///{folder / 'park.sqlite3'}",
        "INCUBATOR_ACTOR": "李娜",
        "HOME": str(folder),  # `demo` writes into the data folder
        "XDG_DATA_HOME": str(folder / "data"),
        "COLUMNS": "100",
    }
    park = Park(folder, env, [], "")
    apply = ["org", "apply", "--name", "爱心志愿者协会", "--field", "公益慈善",
             "--legal-status", "registered", "--track", "incubation", "--site", "main",
             "--on", "2014-01-06"]  # fmt: skip
    first = park.run(*apply).stdout.decode().strip()
    second = park.run(*apply[:3], "阳光助残服务队", *apply[4:]).stdout.decode().strip()
    for step in (
        ["org", "start-inspection", second, "--on", "2014-01-08"],
        ["org", "submit-for-entry", second, "--on", "2014-02-20"],
        ["org", "evaluate-entry", second, "--score", "王建国=82", "--score", "刘慧=78",
         "--score", "赵志强=85", "--workspace", "M-02", "--on", "2014-03-03"],
    ):  # fmt: skip
        assert park.run(*step).returncode == 0
    branch = park.run("party", "joint-branch", "create", "--name", "主园区联合党支部",
                      "--site", "main", "--on", "2014-03-10")  # fmt: skip
    park.ids, park.branch = [first, second], branch.stdout.decode().strip()
    assert park.ids[0] and park.ids[1] and park.branch, (park.ids, branch.stderr)
    return park


def fuzzed(command: Command, park: Park, exits: Counter[int]) -> Any:
    """`command` run on generated arguments, EXAMPLES times; `exits` counts the exit codes."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def one_command_line(data: st.DataObject) -> None:
        argv = data.draw(command_lines(command, park))
        before = park.events()
        done = park.run(*argv, stop_after=3.0 if command.follows else None)
        said = f"{argv!r:.600} → {done.returncode}: {done.stderr[-1500:]!r}"
        exits[done.returncode] += 1
        stopped = {130} if command.follows else set()  # SIGTERM before its own handler
        assert done.returncode in EXIT_CODES | stopped, said
        assert b"Traceback" not in done.stderr, said
        assert b"s3cr3t" not in done.stderr + done.stdout, said
        if done.returncode != 0:
            assert park.events() == before, f"recorded, then exited non-zero: {said}"

    return one_command_line


@pytest.mark.slow
def test_no_command_line_ends_in_a_traceback_or_records_what_it_refused(park: Park) -> None:
    exits: Counter[int] = Counter()
    written = park.events()
    for command in COMMANDS:  # every one, whatever hypothesis would rather pick
        fuzzed(command, park, exits)()
    print(f"exit codes of {sum(exits.values())} command lines: {dict(sorted(exits.items()))}")
    # It got past the door too: some lines were recorded, read, refused by a rule.
    assert exits[0] and exits[1] and exits[2] and exits[4], exits
    assert park.events() > written

    # Afterwards: no read model met an event it could not apply, and a rebuild agrees.
    status = park.run("projections", "status", "--json")
    assert status.returncode == 0, status.stdout.decode()[-3000:]
    before = json.loads(park.run("org", "list", "--json").stdout)
    assert park.run("projections", "rebuild").returncode == 0
    assert json.loads(park.run("org", "list", "--json").stdout) == before


def test_the_walk_finds_every_command() -> None:
    """The fuzz takes its commands from the click tree: the generated ones too."""
    names = {repr(c) for c in COMMANDS}
    assert {"org apply", "party count-members", "audit export", "projections rebuild"} <= names
    assert {"party joint-branch create", "report time-in-stage", "init", "demo"} <= names
    assert {repr(c) for c in COMMANDS if c.follows} == {"projections run", "scheduler", "serve"}
    assert len(names) == len(COMMANDS) > 50
