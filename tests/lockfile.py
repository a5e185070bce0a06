"""Reads requirements.lock (`uv pip compile --generate-hashes` output) and says how it has
drifted from pyproject.toml's runtime dependencies. Offline: the lock's own `# via`
annotations are the dependency graph, so nothing is resolved or downloaded."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

# The one command that writes the lock; `make lock` runs it (Makefile: LOCK_CMD) and uv
# records it in the lock's header. Every drift message names it.
LOCK_COMMAND = (
    "uv pip compile pyproject.toml --generate-hashes --python-version 3.11 "
    "--python-platform x86_64-manylinux_2_28 --output-file requirements.lock"
)
PROJECT = "nightshift"
# The marker environment the lock is compiled for: Modal's debian_slim, CPython 3.11, x86_64.
TARGET = {
    "implementation_name": "cpython",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_system": "Linux",
    "python_full_version": "3.11.0",
    "python_version": "3.11",
    "sys_platform": "linux",
}


@dataclass
class Pin:
    """One `name==version` entry of the lock, with its hashes and the packages it comes via."""

    name: NormalizedName
    version: str
    hashes: list[str] = field(default_factory=list)
    via: set[str] = field(default_factory=set)


def parse_lock(text: str) -> dict[NormalizedName, Pin]:
    """Pins by normalized name. `via` holds normalized names, or PROJECT for pyproject.toml."""
    pins: dict[NormalizedName, Pin] = {}
    current: Pin | None = None
    in_via = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if not raw.startswith((" ", "#")):
            requirement = Requirement(line.rstrip("\\").strip())
            (specifier,) = requirement.specifier
            name = canonicalize_name(requirement.name)
            current = pins[name] = Pin(name, specifier.version)
            in_via = False
        elif current is None:  # the header
            continue
        elif line.startswith("--hash="):
            current.hashes.append(line.removeprefix("--hash=").rstrip("\\").strip())
        elif line.startswith("# via"):
            in_via = True
            if rest := line.removeprefix("# via").strip():
                current.via.add(_parent(rest))
        elif line.startswith("#") and in_via:
            current.via.add(_parent(line.lstrip("#").strip()))
    return pins


def _parent(annotation: str) -> str:
    name = re.split(r"[\s(]", annotation, maxsplit=1)[0]
    return PROJECT if name == PROJECT else canonicalize_name(name)


def lock_problems(dependencies: list[str], lock_text: str) -> list[str]:
    """Every way the lock is out of step with `dependencies` (pyproject's list), or []."""
    pins = parse_lock(lock_text)
    wanted = {canonicalize_name(Requirement(d).name): Requirement(d) for d in dependencies}
    problems: list[str] = []
    for name, requirement in wanted.items():
        pin = pins.get(name)
        if pin is None:
            problems.append(f"{requirement} (pyproject.toml) is not pinned in requirements.lock")
            continue
        if not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"requirements.lock pins {name}=={pin.version}, outside {requirement}")
        for extra_name in sorted(_extra_packages(requirement, pin.version) - pins.keys()):
            problems.append(f"{requirement} needs {extra_name}, not pinned in requirements.lock")
    stale_direct = {n for n, p in pins.items() if PROJECT in p.via and n not in wanted}
    for name in sorted(stale_direct):
        problems.append(
            f"requirements.lock pins {name} for pyproject.toml, which no longer lists it"
        )
    for name in sorted(pins.keys() - _reachable(pins, set(wanted)) - stale_direct):
        problems.append(f"requirements.lock pins {name}, which no dependency needs any more")
    problems += [
        f"{name} has no --hash in requirements.lock" for name, p in pins.items() if not p.hashes
    ]
    return problems


def _reachable(pins: dict[NormalizedName, Pin], roots: set[NormalizedName]) -> set[str]:
    seen: set[str] = set()
    todo = [r for r in roots if r in pins]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [child for child, pin in pins.items() if name in pin.via]
    return seen


def _extra_packages(requirement: Requirement, pinned: str) -> set[NormalizedName]:
    """What the requested extras add (e.g. psycopg[binary] -> psycopg-binary), from the installed
    distribution's metadata; only when it is the pinned version (else the metadata may differ)."""
    if not requirement.extras:
        return set()
    try:
        if metadata.version(requirement.name) != pinned:
            return set()
        requires = metadata.requires(requirement.name) or []
    except metadata.PackageNotFoundError:
        return set()
    added: set[NormalizedName] = set()
    for dependency in map(Requirement, requires):
        marker = dependency.marker
        if marker is None or marker.evaluate({**TARGET, "extra": ""}):
            continue  # a base dependency: the `via` graph already covers it
        if any(marker.evaluate({**TARGET, "extra": extra}) for extra in requirement.extras):
            added.add(canonicalize_name(dependency.name))
    return added
