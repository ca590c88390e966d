"""Where spec files live: the suite's ``spec/`` folder and its areas, a vendor's folders, the catalogue.

The suite's ``spec/`` and ``expectations/`` are the wheel's copies, or an editable install's checkout's
(``core.packaged.data_dir``).

A *spec root* is a folder whose sub-folders are areas: one named ``spec``, or one holding a
catalogue (``behaviours.yaml``). A vendor's folder given with ``--spec`` is either an area (it holds
case files) or a root of areas (it holds only folders); ``with_vendor_folders`` puts its areas in
place of the suite's areas of the same names, or beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..core.jsshow import show
from ..core.packaged import data_dir
from ..errors import UsageError

#: The behaviour catalogue beside the area folders of a spec root (read by ``catalogue.py``, never as cases).
CATALOGUE_FILE = "behaviours.yaml"
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
