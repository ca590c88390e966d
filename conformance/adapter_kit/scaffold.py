"""``connect-conformance init js|python DIR``: a project that validates one implementation.

It holds the adapter shell (JavaScript: a stdio shell importing the JS kit, started by a launcher
that hands the runtime the run's CA; Python: a module on ``conformance.adapter_kit``), a
placeholder ``connect()`` unless the shell imports an existing one, an empty expectations file,
a README saying how to run and gate, and a GitHub Actions workflow that gates on the file.

The JS shell imports the kit from ``$CONNECT_CONFORMANCE_JS_KIT``, which the harness sets for the
adapters it starts, instead of a copy: after ``pip install -U connect-conformance`` the kit still
speaks the protocol of the harness that drives it (a copy would miss the ops added since).
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from pathlib import Path

from .._version import __version__

EXPECTATIONS = "expectations.yaml"
WORKFLOW = ".github/workflows/connect-conformance.yml"


@dataclass(frozen=True)
class Runtime:
    """A JavaScript runtime the JS shell runs on: how it is started with the run's CA, and set up in CI."""

    name: str
    #: The launcher's last line: the runtime on adapter.mjs, trusting the run's CA.
    exec_line: str
    setup: str
    install: str
    #: How a package becomes importable by adapter.mjs (``{}``: the package).
    add: str


RUNTIMES = {
    "node": Runtime(
        "Node.js",
        'NODE_EXTRA_CA_CERTS="$CONNECT_CONFORMANCE_CA_FILE" exec node "$(dirname "$0")/adapter.mjs"',
        "      - uses: actions/setup-node@v4\n        with:\n          node-version: 20\n",
        "      - run: npm install\n",
        "npm install {}",
    ),
    "deno": Runtime(
        "Deno",
        'DENO_CERT="$CONNECT_CONFORMANCE_CA_FILE" exec deno run --allow-net --allow-env --allow-read '
        '"$(dirname "$0")/adapter.mjs"',
        "      - uses: denoland/setup-deno@v2\n        with:\n          deno-version: v2.x\n",
        "",
        "deno add npm:{}",
    ),
    "bun": Runtime(
        "Bun",
        'NODE_EXTRA_CA_CERTS="$CONNECT_CONFORMANCE_CA_FILE" exec bun "$(dirname "$0")/adapter.mjs"',
        "      - uses: oven-sh/setup-bun@v2\n",
        "      - run: bun install\n",
        "bun add {}",
    ),
}

#: What the shell declares unless told otherwise (docs/adapters.md, section 11).
DEFAULT_CAPABILITIES = {"js": ("ipv6", "tls", "starttls", "unhandled-rejections"), "python": ("ipv6",)}

JS_SHELL = """\
// The connect-conformance adapter of __NAME__ (made by `connect-conformance init js`; README.md).
// A shell around the adapter kit of the connect-conformance that starts it: the kit does every op
// of the protocol on sockets of the connect() imported below and speaks it on stdin/stdout. The
// harness names the kit's folder in CONNECT_CONFORMANCE_JS_KIT (`connect-conformance adapter-kit js`
// prints it), so the kit always speaks the harness's protocol, after `pip install -U` too.

import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { connect } from "__CONNECT_FROM__";

// What `hello` answers: the name and version head every report; the capabilities say what the
// implementation can do (docs/adapters.md, section 11): a case that needs another is skipped.
const IMPLEMENTATION = {
  name: "__NAME__",
  version: "0.0.0",
  capabilities: __CAPABILITIES__,
};
const RUNTIME = globalThis.Deno
  ? `Deno ${globalThis.Deno.version.deno}`
  : globalThis.Bun
    ? `Bun ${globalThis.Bun.version}`
    : `Node ${process.version}`;

const kit = process.env.CONNECT_CONFORMANCE_JS_KIT;
if (!kit) {
  process.stderr.write(
    "CONNECT_CONFORMANCE_JS_KIT is not set: connect-conformance sets it for the adapters it starts.\\n" +
      'By hand: CONNECT_CONFORMANCE_JS_KIT="$(connect-conformance adapter-kit js)" ./adapter.sh\\n',
  );
  process.exit(2);
}
const load = (module) => import(pathToFileURL(join(kit, module)).href);
const { createAdapter } = await load("interpreter.js");
const { serveStdio } = await load("stdio.js");

// stdout carries responses only: what the implementation logs goes to stderr.
console.log = console.info = console.debug = console.error;

const adapter = createAdapter({ ...IMPLEMENTATION, runtime: RUNTIME, connect });
// A rejection nobody handled is the implementation's behaviour: `end` reports it (B22).
process.on("unhandledRejection", (reason) => adapter.noteUnhandled(reason));
process.on("rejectionHandled", () => {});
process.on("uncaughtException", (error) => console.error("uncaught exception (the adapter goes on):", error));
try {
  await serveStdio(adapter);
  process.exit(0);
} catch (error) {
  console.error("the adapter broke:", error);
  process.exit(1);
}
"""

JS_LAUNCHER = """\
#!/bin/sh
# How connect-conformance starts the adapter (README.md): __RUNTIME__ on adapter.mjs, trusting the
# run's certificate authority, which is made fresh for every run (docs/adapters.md, section 10).
__EXEC__
"""

JS_CONNECT = """\
// connect() of __NAME__: write it here (or import yours in adapter.mjs instead of this file).
// connect(address, options) returns a Socket at once and never awaits: opened, closed, readable,
// writable, close(), startTls() (docs/adapters.md, sections 5 to 7, say what the cases use).
export function connect(address, options) {
  throw new TypeError("connect() is not written yet (connect.mjs)");
}
"""

PYTHON_SHELL = '''\
#!/usr/bin/env python3
"""The connect-conformance adapter of __NAME__ (made by `connect-conformance init python`; README.md).

The adapter kit of connect-conformance (conformance.adapter_kit) does every op of the protocol on
the sockets the connect() imported below returns, and speaks it on stdin/stdout; this file says who
the implementation is. Run it with the Python that connect-conformance is installed in.
"""

import platform

from conformance.adapter_kit import create_adapter, run_stdio

from __CONNECT_FROM__ import connect

# What `hello` answers: the name and version head every report; the capabilities say what the
# implementation can do (docs/adapters.md, section 11): a case that needs another is skipped.
NAME = "__NAME__"
VERSION = "0.0.0"
CAPABILITIES = __CAPABILITIES__

if __name__ == "__main__":
    runtime = f"{platform.python_implementation()} {platform.python_version()}"
    run_stdio(create_adapter(name=NAME, version=VERSION, runtime=runtime, capabilities=CAPABILITIES, connect=connect))
'''

PYTHON_CONNECT = '''\
"""connect() of __NAME__: write it here (or import yours in adapter.py instead of this module).

connect(address[, options]) returns a socket at once and never awaits; docs/adapters.md ("The
Python kit") lists what the kit reads of it: opened, closed, readable.get_reader(), ...
"""

from conformance.adapter_kit import UNDEFINED, JSError


def connect(address=UNDEFINED, options=UNDEFINED):
    raise JSError("TypeError", "connect() is not written yet (connect.py)")
'''

EXPECTATIONS_TEXT = """\
# Known non-pass outcomes of __NAME__ against connect-conformance: the gate (README.md).
# `run --update-expectations expectations.yaml` drafts an entry for each non-pass outcome, marked
# `unreviewed: true`; replace each draft reason with why (a behaviour id, an issue), then remove the mark.
implementation: __NAME__
cases: {}
"""

README = """\
# __NAME__ on connect-conformance

Validates __NAME__'s `connect()` against connect-conformance, the conformance suite of `connect()`
from `cloudflare:sockets`. Made by `connect-conformance init __LANGUAGE__` (connect-conformance __VERSION__).

| file | what |
|---|---|
__FILES__| `expectations.yaml` | the known non-pass outcomes, each with its reason: the gate |
| `.github/workflows/connect-conformance.yml` | CI: installs connect-conformance __VERSION__ and runs the gate |

Install connect-conformance (Python 3.11 or newer) and __SETUP__, then, here:

```sh
connect-conformance adapter-check --adapter __ADAPTER__           # does the adapter speak the protocol?
connect-conformance run --adapter __ADAPTER__ -k lifecycle -v     # a few cases, each on a line
connect-conformance run --adapter __ADAPTER__ --update-expectations expectations.yaml   # everything; drafts entries
connect-conformance run --adapter __ADAPTER__ --expectations expectations.yaml          # the gate: exit 0
```

The adapter's shell runs the runtime found on `PATH`; if you installed it into this folder (e.g.
`npm install bun` puts it in `node_modules/.bin/`), write that path into the shell.

A run prints every unexpected outcome and writes `reports/latest/` (`summary.md`; in `results.json`
each case's message and transcript). `fail` is the implementation differing from the spec, `error`
the adapter (fix it rather than record it), `skip` a capability the adapter does not declare.
Each failing line cites the behaviours its case checks: `connect-conformance catalogue` prints them
all, with the exact messages workerd gives. The `policy` cases (B23, B24, B48) are Cloudflare's
production rules; a runtime that is not Cloudflare's records them with one reason.

**The gate.** `--update-expectations` writes an entry for each case that did not pass, with a draft
reason (the behaviours the case cites and its first failure line) marked `unreviewed: true`, and
keeps the reasons already there. Review each: write why it differs (a behaviour id, an issue link),
then remove the mark; `connect-conformance validate --expectations expectations.yaml` lists the
ones left. The gated run exits 0 when every outcome is as listed, 1 on anything else: a new failure,
and a fix too (remove its entry).

**Upgrading.** CI pins connect-conformance __VERSION__. After a new version (`pip install -U
connect-conformance` here, then the pin), rerun the `--update-expectations` line and review what
changed: new cases start without an entry. __KIT_NOTE__
"""

WORKFLOW_TEXT = """\
# Gates __NAME__ on connect-conformance: fails on any outcome expectations.yaml does not list.
# GitHub reads workflows at the repository's root: if this project is a folder of your repository,
# move .github/ there and set the folder as working-directory below.
name: connect-conformance
on:
  push:
  pull_request:
jobs:
  conformance:
    runs-on: ubuntu-latest
    env:
      # A pip requirement: this version from your package index, a wheel, or git+URL of its repository.
      CONNECT_CONFORMANCE: connect-conformance==__VERSION__
    defaults:
      run:
        working-directory: .
    steps:
      - uses: actions/checkout@v4
__SETUP__      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: python -m pip install "$CONNECT_CONFORMANCE"
__INSTALL__      - run: connect-conformance run --adapter __ADAPTER__ --expectations expectations.yaml
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: connect-conformance-report
          path: reports/latest/
"""


@dataclass(frozen=True)
class Project:
    language: str
    folder: Path
    name: str
    #: Where the shell imports connect from (None: a placeholder connect.mjs / connect.py, written too).
    connect_from: str | None
    capabilities: tuple[str, ...]
    runtime: str = "node"

    @property
    def adapter(self) -> str:
        """The ``--adapter`` value of every command, relative to the project's folder."""
        return "stdio:./adapter.sh" if self.language == "js" else "'stdio:python adapter.py'"


def files(project: Project) -> dict[str, str]:
    """Every file of the project, by its path under the project's folder."""
    capabilities = json.dumps(list(project.capabilities))
    if project.language == "js":
        runtime = RUNTIMES[project.runtime]
        connect_from = project.connect_from or "./connect.mjs"
        written = {
            "adapter.mjs": JS_SHELL.replace("__CONNECT_FROM__", connect_from),
            "adapter.sh": JS_LAUNCHER.replace("__RUNTIME__", runtime.name).replace("__EXEC__", runtime.exec_line),
        }
        if project.connect_from is None:
            written["connect.mjs"] = JS_CONNECT
        if project.runtime != "deno":
            package = {"name": _package_name(project.name), "private": True, "type": "module"}
            written["package.json"] = json.dumps(package, indent=2) + "\n"
        setup, install = runtime.setup, runtime.install
        setup_text = runtime.name
        if project.connect_from and not project.connect_from.startswith((".", "/")):
            setup_text += f", then add the implementation (`{runtime.add.format(connect_from)}`)"
        kit_note = (
            "The shell imports the JavaScript kit of the connect-conformance that starts it "
            "(`$CONNECT_CONFORMANCE_JS_KIT`, which `connect-conformance adapter-kit js` prints), never a copy, "
            "so an upgrade brings the kit that speaks its protocol."
        )
    else:
        connect_from = project.connect_from or "connect"
        written = {"adapter.py": PYTHON_SHELL.replace("__CONNECT_FROM__", connect_from)}
        if project.connect_from is None:
            written["connect.py"] = PYTHON_CONNECT
        setup, install = "", ""
        setup_text = "your implementation in the same Python"
        kit_note = (
            "The shell imports the Python kit, `conformance.adapter_kit`, of the connect-conformance installed "
            "in the Python that runs it (`connect-conformance adapter-kit python` says which)."
        )
    listing = "".join(f"| `{path}` | {_purpose(path)} |\n" for path in written if path != "package.json")
    substitutions = {
        "__NAME__": project.name,
        "__CAPABILITIES__": capabilities,
        "__VERSION__": __version__,
        "__ADAPTER__": project.adapter,
        "__LANGUAGE__": project.language,
    }
    written[EXPECTATIONS] = EXPECTATIONS_TEXT
    written["README.md"] = (
        README.replace("__FILES__", listing).replace("__SETUP__", setup_text).replace("__KIT_NOTE__", kit_note)
    )
    written[WORKFLOW] = WORKFLOW_TEXT.replace("__SETUP__", setup).replace("__INSTALL__", install)
    return {path: _substitute(text, substitutions) for path, text in written.items()}


def _purpose(path: str) -> str:
    return {
        "adapter.mjs": "the adapter: the JavaScript kit around your `connect()`; edit its `IMPLEMENTATION`",
        "adapter.sh": "starts the runtime on `adapter.mjs` with the run's CA (what `--adapter` names)",
        "connect.mjs": "your `connect()` (a placeholder that throws)",
        "adapter.py": "the adapter: the Python kit around your `connect()`; edit its `NAME`, `VERSION`, `CAPABILITIES`",
        "connect.py": "your `connect()` (a placeholder that throws)",
    }[path]


def _substitute(text: str, substitutions: dict[str, str]) -> str:
    for token, value in substitutions.items():
        text = text.replace(token, value)
    return text


def _package_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-._" else "-" for c in name.lower()).strip("-._")
    return f"{cleaned or 'implementation'}-conformance"


def unexpected_contents(folder: Path) -> list[str]:
    """What is already in ``folder`` (nothing when it does not exist)."""
    if not folder.exists():
        return []
    return sorted(entry.name for entry in folder.iterdir())


def write(project: Project) -> tuple[list[Path], list[Path]]:
    """Writes the project's files: ``(written, kept)``, where ``kept`` are files that already existed,
    left as they were (a package.json or an expectations file of yours is never replaced)."""
    written, kept = [], []
    for relative, text in files(project).items():
        path = project.folder / relative
        if path.exists():
            kept.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if relative.endswith((".sh", "adapter.py")):
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        written.append(path)
    return written, kept
