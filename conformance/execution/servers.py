"""The real servers of a run's drivers cases: one ``ServerPool`` per run, shared by every lane.

A server is started when the first case that names it runs (``get``), on a thread of its own that
lives as long as the run: a server dies with the thread that started it (``PR_SET_PDEATHSIG``,
``drivers/process.py``), so not on a short-lived worker thread, and starting one (``initdb``: a
second or two) must not stall the other lanes' event loop. The one thread also means one start at a
time. ``close`` stops every server and removes its folder; ``run_cases`` calls it in a ``finally``,
so a run that ends, fails or is interrupted (Ctrl-C, SIGTERM) leaves none behind.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from ..core.certificates import RunCertificates
from ..core.model import ServerSpec
from ..drivers.model import ServerInfo
from ..drivers.servers import ServerPool


class RunServers:
    """The run's servers: started on first use, each (kind, certificate) once; ``close`` stops them all."""

    def __init__(self, certificates: RunCertificates) -> None:
        self._certificates = certificates
        self._pool: ServerPool | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._versions: dict[str, str] = {}

    async def get(self, spec: ServerSpec) -> ServerInfo:
        """The running server ``spec`` names; raises ``drivers.servers.Unavailable`` (``ProgramMissing``
        names the install command)."""
        if self._pool is None or self._thread is None:
            self._pool = ServerPool(self._certificates)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="connect-conformance-servers")
        pool = self._pool
        info = await asyncio.get_running_loop().run_in_executor(self._thread, pool.get, spec.kind, spec.certificate)
        self._versions[info.kind] = info.version
        return info

    def versions(self) -> dict[str, str]:
        """Each kind started so far and the version line its program gave (for the results header)."""
        return dict(sorted(self._versions.items()))

    def close(self) -> None:
        """Stops every server; waits for a start in progress first (its server is stopped too). Idempotent."""
        pool, thread = self._pool, self._thread
        self._pool = self._thread = None
        if thread is None or pool is None:
            return
        try:
            thread.submit(pool.close).result()
        finally:
            thread.shutdown(wait=True)
