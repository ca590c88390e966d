"""The scenario modules (``adapters/js/drivers/<driver>.js``): which drivers there are, the scenarios
each exports and the npm packages each is made of. Read from the files themselves, so ``validate``
names a driver or scenario that does not exist without installing or bundling anything.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from pathlib import Path

#: The npm packages of the ``drivers`` set each scenario module bundles (the versions a run reports).
PACKAGES: dict[str, tuple[str, ...]] = {
    "pg": ("pg", "pg-cloudflare"),
    "postgresjs": ("postgres",),
    "mysql2": ("mysql2",),
    "redis-on-workers": ("redis-on-workers",),
    "ioredis": ("ioredis",),
    "node-redis": ("redis",),
    "mqtt": ("mqtt",),
    "smtp": (),
}
#: The kind of server each driver talks to (``drivers/servers.py``).
SERVER_KIND: dict[str, str] = {
    "pg": "postgres",
    "postgresjs": "postgres",
    "mysql2": "mariadb",
    "redis-on-workers": "redis",
    "ioredis": "redis",
    "node-redis": "redis",
    "mqtt": "mosquitto",
    "smtp": "smtp",
}
#: What a module made of no npm package is (its version is the suite's own).
OWN_CLIENT = "the suite's own client (_smtp.js)"
#: ``export async function name(`` (or without ``async``): a scenario of the module.
_SCENARIO = re.compile(r"^export\s+(?:async\s+)?function\s+([A-Za-z_$][\w$]*)\s*\(", re.MULTILINE)


def scenario_folder() -> Path:
    return Path(str(resources.files("conformance.adapters").joinpath("js", "drivers")))


def drivers(folder: Path | None = None) -> list[str]:
    """The drivers that have a scenario module, sorted (files starting with ``_`` are shared helpers)."""
    return sorted(
        path.stem
        for path in (folder or scenario_folder()).glob("*.js")
        if not path.name.startswith("_") and path.is_file()
    )


@functools.cache
def scenarios(driver: str) -> tuple[str, ...]:
    """The scenarios module ``driver`` exports, sorted; ``()`` for no such module."""
    path = scenario_folder() / f"{driver}.js"
    if driver.startswith("_") or not path.is_file():
        return ()
    return tuple(sorted(set(_SCENARIO.findall(path.read_text(encoding="utf-8")))))


def versions(node_modules: Path) -> dict[str, str]:
    """Each driver's packages as installed in ``node_modules``: ``{"pg": "pg@8.23.1 pg-cloudflare@1.4.1"}``."""
    found: dict[str, str] = {}
    for driver in drivers():
        parts = []
        for package in PACKAGES.get(driver, ()):
            try:
                manifest = json.loads((node_modules / package / "package.json").read_text(encoding="utf-8"))
                parts.append(f"{package}@{manifest['version']}")
            except (OSError, ValueError, KeyError):
                parts.append(f"{package}@unknown")
        found[driver] = " ".join(parts) if parts else OWN_CLIENT
    return found
