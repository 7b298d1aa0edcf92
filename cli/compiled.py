"""The methods of dataclasses compiled once per machine, not once per process.

The eventsourcing library makes each of the domain's ~330 event classes a dataclass, and
`dataclasses` writes each class's `__init__`, `__repr__`, `__eq__`, `__hash__`, `__setattr__`
and `__delattr__` as source text and compiles it when the class is made: a third of a
command's start-up. The text is the same in every process, so its code objects are kept in a
file of the user's cache folder (like a module's .pyc) and only text not seen before is
compiled. Same text, same code: the classes behave exactly as without the file.
"""

from __future__ import annotations

import builtins
import dataclasses
import marshal
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any

# Past this many, the file keeps only what the last process used (code that changed leaves
# text no process asks for again).
MOST = 5_000
_compile_fn = builtins.compile
_exec = builtins.exec


class CodeCache:
    def __init__(self, path: Path | Callable[[], Path]) -> None:
        """`path`, or what finds it: the file is found and read when a dataclass is first
        made (`--help` makes none, and reads nothing)."""
        self._path = path
        self._codes: dict[str, CodeType] | None = None
        self.used: dict[str, CodeType] = {}
        self.new = 0

    @property
    def path(self) -> Path:
        if callable(self._path):
            self._path = self._path()
        return self._path

    @property
    def codes(self) -> dict[str, CodeType]:
        if self._codes is None:
            self._codes = {}
            try:
                loaded = marshal.loads(self.path.read_bytes())
                if isinstance(loaded, dict):
                    self._codes = loaded
            except (OSError, ValueError, EOFError, TypeError):
                pass  # no file yet, or one of another Python: compiled anew
        return self._codes

    def exec(self, source: Any, globals: Any = None, locals: Any = None, /) -> None:
        """`exec` as `dataclasses` calls it, with the text's code object from the file."""
        if not isinstance(source, str):
            _exec(source, globals, locals)
            return
        code = self.codes.get(source)
        if code is None:
            code = self.codes[source] = _compile_fn(source, "<string>", "exec")
            self.new += 1
        self.used[source] = code
        _exec(code, globals, locals)

    def save(self) -> None:
        """Write the file when this process compiled text it did not hold (atomically: a
        process reading it meanwhile reads the old or the new, whole)."""
        if not self.new:
            return
        kept = self.codes if len(self.codes) <= MOST else self.used
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            part = self.path.with_name(f"{self.path.name}.{os.getpid()}")
            part.write_bytes(marshal.dumps(kept))
            part.replace(self.path)
        except OSError:
            pass  # a read-only home: the next process compiles again, nothing worse
        self.new = 0


_installed: list[CodeCache] = []  # the one this process uses, once installed


def install() -> CodeCache:
    """From now on, dataclasses are made with the compiled code the cache file holds."""
    if not _installed:
        cache = CodeCache(_cache_file)
        # `dataclasses` looks `exec` up in its own module first, then in the builtins
        dataclasses.exec = cache.exec  # type: ignore[attr-defined]
        _installed.append(cache)
    return _installed[0]


def _cache_file() -> Path:
    from platformdirs import user_cache_path

    tag = sys.implementation.cache_tag or "python"
    return user_cache_path("incubator") / f"dataclass-code.{tag}.marshal"


def save() -> None:
    for cache in _installed:
        cache.save()
