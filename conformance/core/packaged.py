"""The folders of the repository that the wheel carries inside the package, wherever the package is.

The repository keeps ``spec/``, ``expectations/`` and ``docker/`` at its top; the wheel carries them
inside the package, as ``conformance/spec`` and so on (``setup.py`` maps them). ``data_dir`` finds the
packaged copy through ``importlib.resources``; in an editable install (``pip install -e``) there is
none, and the checkout's folder is found from the install's own record of its source
(``direct_url.json``, PEP 610), so a clone always reads what it has on disk.
"""

from __future__ import annotations

import functools
import json
from importlib import metadata, resources
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import InfrastructureError

#: The distribution whose install records are read.
DISTRIBUTION = "connect-conformance"


def editable_source() -> Path | None:
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
    """``spec``, ``expectations`` or ``docker``: the wheel's copy inside the package, else an editable
    install's checkout's."""
    packaged = resources.files("conformance").joinpath(name)
    if packaged.is_dir():
        return Path(str(packaged))
    source = editable_source()
    if source is not None and (source / name).is_dir():
        return source / name
    raise InfrastructureError(
        f"the suite's {name}/ folder is not installed with connect-conformance (it is not in "
        f"{Path(str(resources.files('conformance')))}, and this is no editable install of a checkout): "
        "install the wheel (pip install connect-conformance) or a checkout (pip install -e .)"
    )


def from_here(path: Path) -> Path:
    """``path`` relative to the current folder when inside it, else as it is: what messages show and
    reports record (``spec/tls/handshake.yaml:12`` in a checkout, the installed copy's full path elsewhere)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
