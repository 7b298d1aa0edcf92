"""Dataclass methods compiled once per machine (cli/compiled.py): the file of compiled code
is written by the process that compiled, read by the next, and a class made from it behaves as
one compiled anew."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from cli.compiled import CodeCache


def _point(cache: CodeCache, monkeypatch: pytest.MonkeyPatch) -> type[Any]:
    with monkeypatch.context() as patched:
        patched.setattr(dataclasses, "exec", cache.exec, raising=False)

        @dataclasses.dataclass(frozen=True)
        class Point:
            x: int
            y: int = 2

    return Point


def test_a_second_process_compiles_nothing_and_makes_the_same_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cache" / "code.marshal"
    first = CodeCache(path)
    _point(first, monkeypatch)
    assert first.new > 0
    first.save()
    assert path.exists()

    second = CodeCache(path)
    point = _point(second, monkeypatch)(1)
    assert second.new == 0
    assert second.used
    assert point == point.__class__(1, 2)
    assert repr(point).endswith("Point(x=1, y=2)")
    assert hash(point) == hash(point.__class__(1, 2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.x = 3


def test_an_unreadable_file_is_compiled_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "code.marshal"
    path.write_bytes(b"not marshal data")
    cache = CodeCache(path)
    assert cache.codes == {}
    assert _point(cache, monkeypatch)(5).y == 2
    assert cache.new > 0
