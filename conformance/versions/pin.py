"""Moving a runtime's pin to a newer release in one command (``watch --bump``).

1. The package set under ``adapters/js/packages/<set>/`` is relocked on the new
   version (``npm install --package-lock-only``, in a scratch copy first).
2. The release must have a config row where the runtime needs one (workerd:
   ``workerd_config.support_for``); else the bump stops and says what to add.
3. The gated suite runs on the new pin with the runtime's expectations file
   (sandboxed, as ``run`` does by default). Anything unexpected stops the bump:
   the package set is put back and the unexpected outcomes are listed, which is
   what is left to triage.
4. The old pin's run is kept in ``reports/history/<family>/<old pin>/`` (run
   now unless a current one is there), and the published reports are made
   again on the new pin (``report publish --run``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..adapters import npm_versions, registry
from ..errors import InfrastructureError, UsageError
from ..exitcodes import ExitCode
from .history import DEFAULT_OUT, family_entry

NPM_TIMEOUT_S = 600


@dataclass(frozen=True)
class BumpOptions:
    family: str
    version: str
    """A published version, or ``latest``."""
    history: Path = DEFAULT_OUT
    reports: Path = Path("reports")


def package_folder(family: str) -> Path:
    """The package set's folder in this checkout (the pin is a file of the repository)."""
    entry = family_entry(family)
    assert entry.npm_packages is not None
    return Path(str(resources.files("conformance.adapters").joinpath("js", "packages", entry.npm_packages)))


def relock(folder: Path, package: str, version: str) -> dict[str, bytes]:
    """The package set's package.json and lock with ``package`` at ``version`` (nothing written to ``folder``)."""
    npm = shutil.which("npm")
    if npm is None:
        raise InfrastructureError("moving a pin needs npm (and Node.js)")
    with tempfile.TemporaryDirectory(prefix="connect-conformance-pin-") as scratch:
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(folder / name, Path(scratch) / name)
        done = subprocess.run(
            [npm, "install", "--package-lock-only", "--save-exact", "--no-audit", "--no-fund", f"{package}@{version}"],
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise InfrastructureError(f"npm could not lock {package}@{version}: {done.stderr.strip()[-800:]}")
        return {name: (Path(scratch) / name).read_bytes() for name in ("package.json", "package-lock.json")}


def _check_config(family: str, version: str) -> None:
    if family != "workerd":
        return
    from ..adapters.workerd_config import support_for

    unusable = support_for(version).unusable
    if unusable:
        raise UsageError(f"workerd {version} cannot run the adapter ({unusable}): see FEATURES in workerd_config.py")


def config_text(text: str, old: str, new: str) -> str:
    """workerd_config.py's source with the pin moved: the pinned release named, its date the compatibility date.

    The date is the newest a release accepts of its own (a release knows dates up to a few days past it).
    """
    day = npm_versions.version_date(new)
    if day is None:
        raise UsageError(f"workerd {new}: no date in the version to use as the compatibility date")
    lines = []
    found = False
    for line in text.splitlines(keepends=True):
        if line.startswith("COMPATIBILITY_DATE = "):
            line = f'COMPATIBILITY_DATE = "{day.isoformat()}"\n'
            found = True
        elif line.startswith("#:") and old in line:
            line = line.replace(old, new)
        lines.append(line)
    if not found:
        raise UsageError("workerd_config.py has no COMPATIBILITY_DATE line to move")
    return "".join(lines)


def header_moved(text: str, old: str, new: str) -> str:
    """An expectations file whose comment header names the pin, with the new pin named instead."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if not line.startswith("#"):
            break
        lines[index] = line.replace(old, new)
    return "".join(lines)


def _connect_conformance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conformance", *args], text=True, capture_output=True, check=False)


def bump(options: BumpOptions) -> ExitCode:
    entry = family_entry(options.family)
    assert entry.npm_package is not None
    from .watch import pinned_version

    old = pinned_version(options.family)
    version = npm_versions.published(entry.npm_package).check(options.version, "--bump")
    if npm_versions.semver_key(version) <= npm_versions.semver_key(old):
        raise UsageError(f"--bump {options.family}: {version} is not newer than the pin {old}")
    _check_config(options.family, version)
    folder = package_folder(options.family)
    before = {name: (folder / name).read_bytes() for name in ("package.json", "package-lock.json")}
    relocked = relock(folder, entry.npm_package, version)
    print(f"{options.family}: pin {old} -> {version}; relocked {folder}", file=sys.stderr, flush=True)
    config = Path(str(resources.files("conformance.adapters").joinpath("workerd_config.py")))
    if options.family == "workerd":
        before[str(config)] = config.read_bytes()
        config.write_text(config_text(config.read_text(encoding="utf-8"), old, version), encoding="utf-8")
    for name, data in relocked.items():
        (folder / name).write_bytes(data)
    expectations = entry.expectations or ""
    if expectations and Path(expectations).is_file():
        known = Path(expectations)
        before[str(known.resolve())] = known.read_bytes()
        known.write_text(header_moved(known.read_text(encoding="utf-8"), old, version), encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="connect-conformance-pin-run-") as scratch:
        gated = _connect_conformance(
            "run", "--adapter", options.family, "--expectations", expectations, "-q", "--report-dir", scratch
        )
    if gated.returncode != ExitCode.OK:
        for name, data in before.items():
            (folder / name).write_bytes(data)  # an absolute path (the config) stays itself
        print(gated.stdout, end="")
        print(gated.stderr, end="", file=sys.stderr)
        print(
            f"not moved: the gated suite on {options.family} {version} is not clean (exit {gated.returncode}); "
            f"the pin stays {old}. Triage what is listed above (connect-conformance watch --adapter {options.family}), "
            "then bump again.",
            file=sys.stderr,
        )
        return ExitCode.UNEXPECTED
    _keep_history(options, old)
    published = _connect_conformance("report", "publish", "--run", "--reports", str(options.reports))
    if published.returncode not in (ExitCode.OK, ExitCode.UNEXPECTED):
        print(published.stderr[-2000:], file=sys.stderr)
        raise InfrastructureError(f"report publish --run failed (exit {published.returncode}) after the bump")
    print(f"moved the {options.family} pin to {version}; the old pin {old} is in {options.history / options.family}/")
    return ExitCode.OK


def _keep_history(options: BumpOptions, old: str) -> None:
    """The old pin's run in the history folder (a run made with today's spec is kept as it is)."""
    import asyncio

    from ..report import results
    from .history import run_version

    target = options.history / options.family / old / "results.json"
    if target.is_file():
        document = json.loads(target.read_text(encoding="utf-8"))
        if document.get("run", {}).get("spec_revision") == results.current_spec_revision():
            return
    spec = registry.resolve(f"{options.family}@{old}")
    outcome = asyncio.run(run_version(options.family, old, spec.default_lanes, [], target))
    if outcome.status != "ran":
        print(f"note: {options.family}@{old} could not be run for the history: {outcome.reason}", file=sys.stderr)
