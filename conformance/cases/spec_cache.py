"""Spec files loaded once, kept on disk for the next command (``$CONNECT_CONFORMANCE_CACHE/spec/``).

Reading and checking the whole spec costs a command about a second (the YAML parser that
keeps line numbers, and the JSON Schema checks), more than running the reference's cases
on many lanes. A file's cases are decided by its bytes, its path and spec folder (ids and
locations), the catalogue its sources are checked against, and the harness's own code
(the loader, the schemas, the action table): the key is a digest of all of them, so a
change to any loads the file afresh. Only a file that loaded without a problem is kept:
problems are always found anew. The commands that run cases use it; ``validate`` and the
library's ``load`` never do, so what they report is always a fresh reading. The catalogue
is kept the same way for the reports' links (``catalogue.load_kept``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import TypeVar

from ..adapters.npm_cache import cache_root
from ..core.model import Case

T = TypeVar("T")

FOLDER = "spec"
#: Set to ``0`` to read every file afresh (the cache is never needed for a correct result).
SWITCH = "CONNECT_CONFORMANCE_SPEC_CACHE"


def enabled() -> bool:
    return os.environ.get(SWITCH, "1") != "0"


@functools.cache
def _code_digest() -> bytes:
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".json") and path.is_file():
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.digest()


def key(path: Path, root: Path | None, catalogue: Path) -> str | None:
    """The file's key, or None when one of its inputs cannot be read (then it is simply loaded)."""
    digest = hashlib.sha256(_code_digest())
    try:
        for part in (str(path), str(root), str(catalogue.resolve())):
            digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(path.read_bytes() + b"\0" + catalogue.read_bytes())
    except OSError:
        return None
    return digest.hexdigest()


def _read(name: str) -> object:
    try:
        with (cache_root() / FOLDER / f"{name}.pickle").open("rb") as file:
            return pickle.load(file)
    except Exception:  # a missing, truncated or foreign entry is a miss, never an error
        return None


def get(name: str) -> list[Case] | None:
    cases = _read(name)
    return cases if isinstance(cases, list) and all(isinstance(case, Case) for case in cases) else None


def get_object(name: str, kind: type[T]) -> T | None:
    """Another reading kept the same way (the catalogue), when it is a ``kind``."""
    found = _read(name)
    return found if isinstance(found, kind) else None


#: Each change of the harness or the spec keys a new set of entries: past this many, the oldest go.
MAX_ENTRIES = 1000
KEEP_ENTRIES = 500


def _prune(folder: Path) -> None:
    entries = list(os.scandir(folder))
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda entry: entry.stat().st_mtime)
    for entry in entries[: len(entries) - KEEP_ENTRIES]:
        with contextlib.suppress(OSError):  # another command may be pruning too
            os.unlink(entry.path)


def put(name: str, cases: object) -> None:
    folder = cache_root() / FOLDER
    # A cache that cannot be written (read-only home, full disk) only costs the next command a reading.
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=folder, suffix=".part", delete=False) as file:
            pickle.dump(cases, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(file.name, folder / f"{name}.pickle")
        _prune(folder)
