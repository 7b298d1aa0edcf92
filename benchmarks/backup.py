"""Backup and restore of a large log: how long each takes, events a second, and how big the
file is next to the database it copies.

    .venv/bin/python -m benchmarks.backup --quick                 # 30,000 events, both backends
    .venv/bin/python -m benchmarks.backup --events 1000000 --backend sqlite

The log is filled with benchmarks.cohorts, then sealed and its read models caught up (a park's
database holds both). `incubator backup` and `incubator restore` then run as processes of their
own, as an administrator runs them: their wall time (start-up included) and peak memory. The
restore's own account of its parts (the file, the copy, `audit verify`, the read models caught
up and rebuilt) comes from its --json answer. Every restore must pass its checks.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from benchmarks.cohorts import fill_up_to
from benchmarks.common import database, incubator, measured, run_backends, section_arguments
from commands.bootstrap import Incubator, bootstrap


def database_bytes(system: Incubator) -> int:
    """What the database takes: the SQLite file, or the PostgreSQL schema's relations."""
    if system.database.path is not None:
        return sum(
            p.stat().st_size
            for p in system.database.path.parent.glob(f"{system.database.path.name}*")
        )
    with system.read_models.engine.connect() as conn:
        return int(
            conn.scalar(
                text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                    "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
                )
            )
            or 0
        )


def run(backend: str, events: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="incubator-bench-backup-"))
    url, drop = database(backend, folder)
    target, drop_target = database(backend, folder)
    out = folder / "park.backup"
    try:
        system = bootstrap(url)
        started = time.perf_counter()
        written, _ = fill_up_to(system.log, events, seed=3)
        fill_seconds = time.perf_counter() - started
        started = time.perf_counter()
        system.read_models.catch_up()  # seals the log, and the read models follow it
        catch_up_seconds = time.perf_counter() - started
        size = database_bytes(system)
        system.close_all()
        backup = measured(
            incubator("backup", "--out", str(out), "--json"), {"INCUBATOR_DATABASE_URL": url}
        )
        manifest = json.loads(backup["stdout"])
        assert manifest["events"] == written, (manifest["events"], written)
        restore = measured(incubator("restore", str(out), "--database", target, "--json"))
        report = json.loads(restore["stdout"])
        assert report["ok"] and report["events"] == written, report
        file_bytes = out.stat().st_size
    finally:
        drop()
        drop_target()
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "backend": backend,
        "events": written,
        "fill_events_per_s": round(written / fill_seconds),
        "catch_up_s": round(catch_up_seconds, 1),
        "database_mb": round(size / 1e6, 1),
        "backup_s": round(backup["seconds"], 1),
        "backup_events_per_s": round(written / backup["seconds"]),
        "backup_peak_rss_mib": round(backup["peak_rss_mib"], 1),
        "backup_file_mb": round(file_bytes / 1e6, 1),
        "backup_database_mb": round(manifest["content"]["bytes"] / 1e6, 1),
        "file_to_database_ratio": round(file_bytes / size, 2),
        "restore_s": round(restore["seconds"], 1),
        "restore_events_per_s": round(written / restore["seconds"]),
        "restore_peak_rss_mib": round(restore["peak_rss_mib"], 1),
        "restore_parts_s": report["seconds"],
    }


def main() -> None:
    parser = section_arguments(__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="30,000 events")
    args = parser.parse_args()
    events = 30_000 if args.quick else args.events
    runs = run_backends(args, lambda b: run(b, events))
    for r in runs:
        parts = ", ".join(f"{k} {v} s" for k, v in r["restore_parts_s"].items() if k != "total")
        print(
            f"{r['backend']:<10} {r['events']:>9,} events, database {r['database_mb']:,} MB | "
            f"backup {r['backup_s']} s ({r['backup_events_per_s']:,} events/s), file "
            f"{r['backup_file_mb']:,} MB ({r['file_to_database_ratio']} of the database), peak "
            f"RSS {r['backup_peak_rss_mib']} MiB | restore {r['restore_s']} s "
            f"({r['restore_events_per_s']:,} events/s: {parts}), peak RSS "
            f"{r['restore_peak_rss_mib']} MiB"
        )


if __name__ == "__main__":
    main()
