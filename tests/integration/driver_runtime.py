"""A Worker that runs the driver scenario bundles, in the pinned workerd, for the tests.

It stands in for the adapter op the integration adds: a POST ``{driver, scenario, server, options}``
answers ``run()``'s outcome (``adapters/js/drivers/README.md``). The config is the adapter's own
(``workerd_config.render``): ``connect()`` reaches loopback only and trusts only the run's CA.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance.adapters.processes import parent_death_signal
from conformance.adapters.workerd import WorkerdRuntime
from conformance.adapters.workerd_config import CA_FILE, WorkerdConfig, render

MAIN = "main.js"
READY_TIMEOUT_S = 20.0


def module_name(driver: str) -> str:
    return f"driver-{driver}.js"


def main_module(drivers: list[str]) -> str:
    imports = "\n".join(f'import * as d{i} from "./{module_name(d)}";' for i, d in enumerate(drivers))
    table = ", ".join(f"{json.dumps(d)}: d{i}" for i, d in enumerate(drivers))
    return f"""{imports}
const drivers = {{ {table} }};
export default {{
  async fetch(request) {{
    if (request.method !== "POST") return new Response("ready");
    const {{ driver, scenario, server, options }} = await request.json();
    const module = drivers[driver];
    if (!module) return Response.json({{ status: "unknown", reason: `no driver ${{driver}}` }});
    return Response.json(await module.run(scenario, {{ server, options }}));
  }},
}};
"""


class ScenarioWorker:
    """One workerd process serving the scenario bundles; ``run`` is one scenario, timed."""

    def __init__(self, runtime: WorkerdRuntime, bundles: Mapping[str, Path], ca_pem: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="connect-conformance-driver-worker-"))
        drivers = sorted(bundles)
        files = {MAIN: main_module(drivers).encode(), CA_FILE: ca_pem.encode()}
        files.update({module_name(d): bundles[d].read_bytes() for d in drivers})
        config = WorkerdConfig(modules=(MAIN, *(module_name(d) for d in drivers)), profiles=False)
        files["config.capnp"] = render(config).encode()
        for name, data in files.items():
            (self.folder / name).write_bytes(data)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self.log = self.folder / "workerd.log"
        started = time.perf_counter()
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(runtime.binary), "serve", "config.capnp", "--socket-fd", f"http={listener.fileno()}"],
                cwd=self.folder,
                env={**os.environ, "PWD": str(self.folder)},
                pass_fds=(listener.fileno(),),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=parent_death_signal(),
            )
        listener.close()
        try:
            self._wait_ready()
        except BaseException:
            self.close()
            raise
        self.startup_s = time.perf_counter() - started

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=5) as answer:
                    if answer.read() == b"ready":
                        return
            except OSError as error:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"workerd did not start ({error}): {self.output()}") from None
            time.sleep(0.05)

    def run(
        self, driver: str, scenario: str, server: Mapping[str, Any], **options: Any
    ) -> tuple[dict[str, Any], float]:
        body = json.dumps({"driver": driver, "scenario": scenario, "server": dict(server), "options": options})
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/", body.encode(), method="POST", headers={"content-type": "application/json"}
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as answer:
            outcome: dict[str, Any] = json.loads(answer.read())
        return outcome, time.perf_counter() - started

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
