"""Where spec files live: the ``spec/`` folder, its areas, and the catalogue file beside them."""

from __future__ import annotations

from pathlib import Path

#: The behaviour catalogue beside the area folders of spec/ (read by ``catalogue.py``, never as cases).
CATALOGUE_FILE = "behaviours.yaml"


def is_catalogue(path: Path) -> bool:
    """``spec/behaviours.yaml`` holds the behaviour catalogue, not cases."""
    return path.name == CATALOGUE_FILE and path.parent.name == "spec"


def find_spec_root(path: Path) -> Path | None:
    """The ``spec/`` folder containing ``path`` (areas are its sub-folders)."""
    for candidate in [path, *path.resolve().parents]:
        if candidate.name == "spec" and candidate.is_dir():
            return candidate
    return None


def default_spec_dir() -> Path:
    """``spec/`` of this checkout, or the copy installed with the package."""
    here = Path(__file__).resolve().parents[1]  # the conformance package
    for candidate in (here.parent / "spec", here / "spec_data"):
        if candidate.is_dir():
            return candidate
    return here.parent / "spec"
