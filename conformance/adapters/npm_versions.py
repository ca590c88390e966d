"""The published versions of an npm package: fetched once a day, kept in the cache, ordered, selected.

``published(package)`` asks ``npm view <package> versions time dist-tags --json``
and keeps the answer in ``<cache>/npm/registry/<package>.json``; a copy younger
than a day is used as it is, and an older one when npm cannot be reached (with a
note on stderr), so ``history`` and ``bisect`` work offline once the versions they
need are installed. ``select()`` turns a ``--versions`` value (``A..B``,
``A,B,C``, ``latest``) and an ``--every`` period into a list of versions, oldest
first. Ordering is npm's (semver); dates come from the version itself when its
minor is a date (workerd's ``1.20260426.1``, Miniflare's ``4.20260426.0``), else
from the registry's publish time (the registry's times of workerd's 2023
releases are when they were re-published, not when they were released).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ..core.jsshow import show
from ..errors import InfrastructureError, UsageError

#: A cached version list older than this is fetched again (when npm can be reached).
MAX_AGE_S = 24 * 3600
VIEW_TIMEOUT_S = 120

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_PERIOD = re.compile(r"^(\d+)(d|w|mo|y)$")


def is_version(text: str) -> bool:
    return _SEMVER.match(text) is not None


def semver_key(version: str) -> tuple[Any, ...]:
    """npm's order: numeric major.minor.patch, a prerelease before its release, identifiers compared per semver."""
    match = _SEMVER.match(version)
    if match is None:
        raise ValueError(f"not a semantic version: {show(version)}")
    major, minor, patch, pre = match.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (int(major), int(minor), int(patch), 0, parts)


def is_prerelease(version: str) -> bool:
    match = _SEMVER.match(version)
    return match is not None and match.group(4) is not None


def version_date(version: str) -> date | None:
    """The date a version names, when its minor is one (``1.20260426.1`` -> 2026-04-26)."""
    match = _SEMVER.match(version)
    if match is None or len(match.group(2)) != 8:
        return None
    text = match.group(2)
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def cache_file(package: str) -> Path:
    from .npm_cache import cache_root, safe_name

    return cache_root() / "npm" / "registry" / f"{safe_name(package)}.json"


@dataclass(frozen=True)
class Published:
    """What the registry says about one package."""

    package: str
    versions: tuple[str, ...]
    """Every published version, in npm's order (oldest first)."""
    times: dict[str, str]
    """Publish time (ISO 8601) per version, including versions since unpublished."""
    latest: str | None
    fetched: str
    """When the registry was asked (ISO 8601)."""

    def released(self, version: str) -> date | None:
        named = version_date(version)
        if named is not None:
            return named
        stamp = self.times.get(version)
        if not stamp:
            return None
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).date()
        except ValueError:
            return None

    def stable(self) -> list[str]:
        return [v for v in self.versions if not is_prerelease(v)]

    def withdrawn(self) -> list[str]:
        """Versions the registry's history names that can no longer be installed (unpublished), oldest first."""
        gone = set(self.times) - set(self.versions)
        return sorted((v for v in gone if is_version(v) and not is_prerelease(v)), key=semver_key)

    def check(self, version: str, what: str) -> str:
        """``version`` if it is published, ``latest`` resolved; else a ``UsageError`` saying why not."""
        if version == "latest":
            if self.latest is None:
                raise UsageError(f"{what}: the registry names no latest version of {self.package}")
            return self.latest
        if version in self.versions:
            return version
        if version in self.times:
            raise UsageError(
                f"{what}: {self.package} {version} was withdrawn: published {self.times[version]}, since unpublished"
            )
        nearest = self.nearest(version)
        hint = f"; nearest published: {', '.join(nearest)}" if nearest else ""
        raise UsageError(f"{what}: {self.package} has no published version {version}{hint}")

    def nearest(self, version: str) -> list[str]:
        if not is_version(version):
            return [self.latest] if self.latest else []
        key = semver_key(version)
        stable = self.stable()
        below = [v for v in stable if semver_key(v) < key][-1:]
        above = [v for v in stable if semver_key(v) > key][:1]
        return below + above

    def between(self, low: str, high: str) -> list[str]:
        """Published versions from ``low`` to ``high`` (both included, either order), oldest first.

        Prereleases are left out unless an end is one (Miniflare publishes betas of a next major).
        """
        first, last = sorted((low, high), key=semver_key)
        keep_pre = is_prerelease(first) or is_prerelease(last)
        return [
            v
            for v in self.versions
            if semver_key(first) <= semver_key(v) <= semver_key(last) and (keep_pre or not is_prerelease(v))
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "fetched": self.fetched,
            "versions": list(self.versions),
            "time": self.times,
            "dist-tags": {"latest": self.latest} if self.latest else {},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Published:
        versions = [str(v) for v in data.get("versions", []) if isinstance(v, str) and is_version(v)]
        times = {str(k): str(v) for k, v in (data.get("time") or {}).items() if is_version(str(k))}
        latest = (data.get("dist-tags") or {}).get("latest")
        return cls(
            package=str(data.get("package", "")),
            versions=tuple(sorted(versions, key=semver_key)),
            times=times,
            latest=str(latest) if isinstance(latest, str) else None,
            fetched=str(data.get("fetched", "")),
        )


def _ask_npm(package: str) -> dict[str, Any]:
    npm = shutil.which("npm")
    if npm is None:
        raise InfrastructureError("npm is needed to list the published versions (install Node.js and npm)")
    try:
        done = subprocess.run(
            [npm, "view", package, "versions", "time", "dist-tags", "--json"],
            capture_output=True,
            text=True,
            timeout=VIEW_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InfrastructureError(f"npm view {package} took longer than {VIEW_TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise InfrastructureError(f"npm view {package} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        raise InfrastructureError(f"npm view {package} did not answer JSON") from None
    if not isinstance(answer, dict):
        raise InfrastructureError(f"npm view {package} answered {type(answer).__name__}, not an object")
    versions = answer.get("versions")
    return {
        "package": package,
        "fetched": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions if isinstance(versions, list) else [versions],
        "time": answer.get("time") or {},
        "dist-tags": answer.get("dist-tags") or {},
    }


def published(package: str, *, refresh: bool = False) -> Published:
    """The package's published versions, from the cache when it is fresh enough (or npm is unreachable)."""
    path = cache_file(package)
    cached: Published | None = None
    if path.is_file():
        try:
            cached = Published.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, AttributeError):
            cached = None
        if cached is not None and not refresh and time.time() - path.stat().st_mtime < MAX_AGE_S:
            return cached
    try:
        data = _ask_npm(package)
    except InfrastructureError as error:
        if cached is None:
            raise
        print(f"note: using the cached version list of {package} ({cached.fetched}): {error}", file=sys.stderr)
        return cached
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.part")
    temporary.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    temporary.replace(path)
    return Published.from_dict(data)


def period(text: str) -> timedelta | int:
    """``--every``: ``Nd``, ``Nw`` (a timedelta) or ``Nmo``, ``Ny`` (a number of months)."""
    match = _PERIOD.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise UsageError(f"--every {show(text)}: expected a period like 2w, 3mo or 1y (d, w, mo, y)")
    count, unit = int(match.group(1)), match.group(2)
    if unit == "d":
        return timedelta(days=count)
    if unit == "w":
        return timedelta(weeks=count)
    return count * (12 if unit == "y" else 1)


def _due(last: date, current: date, step: timedelta | int) -> bool:
    if isinstance(step, timedelta):
        return current - last >= step
    months = (current.year - last.year) * 12 + current.month - last.month
    return months > step or (months == step and current.day >= last.day)


def thin(versions: Sequence[str], info: Published, every: str) -> list[str]:
    """One version per period: the first, then each first one at least ``every`` after the last kept; the last too."""
    step = period(every)
    kept: list[str] = []
    last: date | None = None
    for version in versions:
        released = info.released(version)
        if released is None:
            continue
        if last is None or _due(last, released, step):
            kept.append(version)
            last = released
    if versions and versions[-1] not in kept:
        kept.append(versions[-1])
    return kept


def select(info: Published, spec: str, every: str | None = None) -> list[str]:
    """The versions a ``--versions`` value names, oldest first, without duplicates.

    ``spec`` is a comma-separated list of versions and ranges ``LOW..HIGH``
    (``latest`` allowed for either end); ``every`` thins each range.
    """
    chosen: list[str] = []
    items = [item.strip() for item in spec.split(",") if item.strip()]
    if not items:
        raise UsageError("--versions: expected versions or ranges, e.g. 1.20230512.0..latest or 1.2,1.3")
    for item in items:
        if ".." in item:
            low, _, high = item.partition("..")
            first, last = info.check(low.strip(), "--versions"), info.check(high.strip(), "--versions")
            if semver_key(first) > semver_key(last):
                # Read both ways, `latest..OLD` once took every published version (hundreds of installs).
                raise UsageError(
                    f"--versions {item}: the range runs backwards ({first} is newer than {last}); "
                    f"did you mean {high.strip()}..{low.strip()}?"
                )
            span = info.between(first, last)
            chosen += thin(span, info, every) if every else span
        else:
            chosen.append(info.check(item, "--versions"))
    unique = sorted(set(chosen), key=semver_key)
    return unique
