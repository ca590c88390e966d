"""Where the sources a case cites point, for a report page written in a given folder.

A behaviour id (``B15``) links to its section of the catalogue's Markdown,
``spec/behaviours.md#b15``, by a path relative to the page, so the link works in
a checkout, in the published ``reports/`` of the repository and on a forge that
renders Markdown (its heading anchors are the same ``b15``). Documents and
issues (``docs:tcp-sockets#connect``, ``workerd#6479``) link to their URLs. A
source the catalogue does not know gets no link; the report shows it as text.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..cases import catalogue
from ..cases.specdir import default_spec_dir
from ..errors import SpecErrors

MARKDOWN = "behaviours.md"


def source_links(sources: Iterable[str], page_directory: Path, spec_dir: Path | None = None) -> dict[str, str]:
    """Each source that resolves -> its link, for a page in ``page_directory``; {} without a readable catalogue."""
    spec_dir = spec_dir or default_spec_dir()
    try:
        known = catalogue.load_kept(spec_dir / catalogue.FILE_NAME)
    except SpecErrors:
        return {}
    page = Path(os.path.relpath(spec_dir.resolve() / MARKDOWN, page_directory.resolve())).as_posix()
    links: dict[str, str] = {}
    for source in sources:
        link = known.link(source, page)
        if link is not None:
            links[source] = link
    return links
