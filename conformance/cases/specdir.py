"""Where spec files live: the suite's ``spec/`` folder and its areas, a vendor's folders, the catalogue.

The repository keeps ``spec/`` and ``expectations/`` at its top; the wheel carries them inside the
package, as ``conformance/spec`` and ``conformance/expectations`` (``setup.py`` maps them). ``data_dir``
finds the packaged copy through ``importlib.resources``; in an editable install (``pip install -e``)
there is none, and the checkout's folder is found from the install's own record of its source
(``direct_url.json``, PEP 610), so a clone always reads what it has on disk.

A *spec root* is a folder whose sub-folders are areas: one named ``spec``, or one holding a
catalogue (``behaviours.yaml``). A vendor's folder given with ``--spec`` is either an area (it holds
case files) or a root of areas (it holds only folders); ``with_vendor_folders`` puts its areas in
place of the suite's areas of the same names, or beside them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from importlib import metadata, resources
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..core.jsshow import show
from ..errors import InfrastructureError, UsageError

#: The behaviour catalogue beside the area folders of a spec root (read by ``catalogue.py``, never as cases).
CATALOGUE_FILE = "behaviours.yaml"
#: The distribution whose install record names an editable install's checkout.
DISTRIBUTION = "connect-conformance"
#: The folders of the repository the wheel carries inside the package.
SPEC = "spec"
EXPECTATIONS = "expectations"


def is_catalogue(path: Path) -> bool:
    """``behaviours.yaml`` holds a behaviour catalogue, not cases (the suite's, or a vendor folder's own)."""
    return path.name == CATALOGUE_FILE


def is_spec_root(folder: Path) -> bool:
    return folder.is_dir() and (folder.name == SPEC or (folder / CATALOGUE_FILE).is_file())


def find_spec_root(path: Path) -> Path | None:
    """The spec root containing ``path`` (areas are its sub-folders)."""
    for candidate in [path, *path.resolve().parents]:
        if is_spec_root(candidate):
            return candidate
    return None


def _editable_source() -> Path | None:
    """The checkout of an editable install of this package, from its ``direct_url.json``; else None.

    Every install record of the name is read: a build in the checkout leaves an ``*.egg-info`` without
    one, which the current folder puts ahead of the install's own record.
    """
    imported = Path(str(resources.files("conformance"))).resolve()
    for distribution in metadata.distributions(name=DISTRIBUTION):
        try:
            record = json.loads(distribution.read_text("direct_url.json") or "null")
        except ValueError:
            continue
        if not isinstance(record, dict) or not record.get("dir_info", {}).get("editable"):
            continue
        parts = urlsplit(str(record.get("url", "")))
        source = Path(unquote(parts.path))
        # Another checkout's editable record must not answer for the package that was imported.
        if parts.scheme == "file" and (source / "conformance").resolve() == imported:
            return source
    return None


@functools.cache
def data_dir(name: str) -> Path:
    """``spec`` or ``expectations``: the wheel's copy inside the package, else an editable install's checkout's."""
    packaged = resources.files("conformance").joinpath(name)
    if packaged.is_dir():
        return Path(str(packaged))
    source = _editable_source()
    if source is not None and (source / name).is_dir():
        return source / name
    raise InfrastructureError(
        f"the suite's {name}/ folder is not installed with connect-conformance (it is not in "
        f"{Path(str(resources.files('conformance')))}, and this is no editable install of a checkout): "
        "install the wheel (pip install connect-conformance) or a checkout (pip install -e .)"
    )


def default_spec_dir() -> Path:
    """The suite's ``spec/``: the copy installed with the package, or the checkout's (editable install)."""
    return data_dir(SPEC)


def expectations_dir() -> Path:
    """The built-in implementations' expectations files (``expectations/`` of the repository)."""
    return data_dir(EXPECTATIONS)


def _case_files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.yaml") if p.is_file() and not is_catalogue(p))


def vendor_areas(folder: Path) -> dict[str, Path]:
    """A ``--spec`` folder's areas by name: the folder itself when it holds case files, else its sub-folders."""
    if not folder.is_dir():
        raise UsageError(f"--spec {folder}: no such folder")
    if _case_files_in(folder):
        return {folder.resolve().name: folder}
    areas = {sub.name: sub for sub in sorted(folder.iterdir()) if sub.is_dir() and any(sub.rglob("*.yaml"))}
    if not areas:
        raise UsageError(f"--spec {folder}: neither an area (a folder of case files, *.yaml) nor a folder of areas")
    return areas


def with_vendor_folders(paths: Sequence[Path], vendor: Sequence[Path]) -> list[Path]:
    """``paths`` with the areas of the ``--spec`` folders in place of their namesakes, the others added.

    A spec root among ``paths`` is taken area by area, so that one of its areas can be replaced;
    an area folder among them is replaced when a vendor area has its name. Files stay as given.
    """
    if not vendor:
        return list(paths)
    added: dict[str, Path] = {}
    for folder in vendor:
        for name, area in vendor_areas(folder).items():
            if name in added:
                raise UsageError(f"--spec {folder}: the area {show(name)} is already given by --spec {added[name]}")
            added[name] = area
    result: list[Path] = []
    for path in paths:
        if path.is_dir() and is_spec_root(path) and not _case_files_in(path):
            result.extend(sub for sub in sorted(path.iterdir()) if sub.is_dir() and sub.name not in added)
            result.extend(_case_files_in(path))
        elif not (path.is_dir() and path.resolve().name in added):
            result.append(path)
    return [*result, *added.values()]
