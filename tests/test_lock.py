"""requirements.lock pins every dependency pyproject.toml names, within what it allows: a
dependency added without `scripts/lock` fails here, not on a fresh machine."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def pinned() -> dict[str, str]:
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    found = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", text, re.MULTILINE)
    return {canonicalize_name(name): version for name, version in found}


def test_every_dependency_is_pinned_within_its_bounds() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    versions = pinned()
    missing, outside = [], []
    for text in wanted:
        requirement = Requirement(text)
        version = versions.get(canonicalize_name(requirement.name))
        if version is None:
            missing.append(requirement.name)
        elif not requirement.specifier.contains(version, prereleases=True):
            outside.append(f"{requirement.name}=={version} not {requirement.specifier}")
    assert not missing, f"run scripts/lock: {missing} not in requirements.lock"
    assert not outside, f"run scripts/lock: {outside}"


def test_every_pin_has_its_hashes() -> None:
    lines = (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
    pins = [i for i, line in enumerate(lines) if re.match(r"[A-Za-z0-9][^ ]*==", line)]
    assert len(pins) == len(pinned()) > 40
    assert all("--hash=sha256:" in lines[i + 1] for i in pins)
