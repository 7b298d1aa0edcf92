"""Children that start at the same moment: real OS processes (spawned, so each imports and
bootstraps on its own) that meet at a barrier and put one result each on a queue."""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Callable, Sequence
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any, TypeVar

CONTEXT = multiprocessing.get_context("spawn")
R = TypeVar("R")


def at_once(
    target: Callable[..., None],
    arguments: Sequence[tuple[Any, ...]],
    names: Sequence[str],
    timeout: float,
) -> tuple[list[R], dict[str, int | None]]:
    """Run `target(*args, barrier, results)` in one child per `args`, all at once; returns what
    the children put on `results` (one each, unless one died) and their exit codes by name."""
    barrier: Barrier = CONTEXT.Barrier(len(arguments))
    results: Queue[R] = CONTEXT.Queue()
    children = [
        CONTEXT.Process(target=target, args=(*args, barrier, results), name=name, daemon=True)
        for args, name in zip(arguments, names, strict=True)
    ]
    received: list[R] = []
    deadline = time.monotonic() + timeout
    try:
        for child in children:
            child.start()
        while len(received) < len(children) and time.monotonic() < deadline:
            try:
                received.append(results.get(timeout=0.2))
            except queue.Empty:
                if not any(child.is_alive() for child in children) and results.empty():
                    break  # a child died without reporting; nothing more will come
        for child in children:
            child.join(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
                child.join(timeout=5)
        results.close()
        results.join_thread()
    return received, {child.name: child.exitcode for child in children}
