"""``connect-conformance adapter-kit js|python``: where the adapter kit of this installation is.

``js`` prints the folder of the JavaScript kit (``--file NAME``: one of its modules), which a
shell imports by path; the adapters the harness starts find it in ``$CONNECT_CONFORMANCE_JS_KIT``.
``python`` prints how to import the Python kit, ``conformance.adapter_kit``.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import UsageError
from ..exitcodes import ExitCode

#: The JavaScript kit's modules (docs/adapters.md, section 2): a shell imports interpreter.js and
#: stdio.js, which import the others.
JS_MODULES = ("interpreter.js", "stdio.js", "ops.js", "session.js", "values.js", "bytes.js", "messages.js", "errors.js")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "language",
        choices=("js", "python"),
        help="js: print the JavaScript kit's folder; python: print how to import the Python kit",
    )
    parser.add_argument(
        "--file",
        metavar="NAME",
        help=f"js only: print the path of one module instead of the folder ({', '.join(JS_MODULES)})",
    )


def run(args: argparse.Namespace) -> int:
    from ..adapters.base import js_kit_folder

    if args.language == "python":
        if args.file is not None:
            raise UsageError("adapter-kit python: --file is for the JavaScript kit (adapter-kit js --file NAME)")
        import conformance.adapter_kit as kit

        print("from conformance.adapter_kit import create_adapter, run_stdio")
        print(f"# the Python kit of connect-conformance, in {kit.__path__[0]}; run your adapter with this Python,")
        print(f"# {sys.executable}, e.g. --adapter 'stdio:python adapter.py' (docs/adapters.md, \"The Python kit\")")
        return ExitCode.OK
    folder = js_kit_folder()
    if args.file is None:
        print(folder)
        return ExitCode.OK
    if args.file not in JS_MODULES:
        raise UsageError(
            f"adapter-kit js --file: no module {args.file!r} in the kit; its modules: {', '.join(JS_MODULES)}"
        )
    path = folder / args.file
    if not path.is_file():
        raise UsageError(
            f"adapter-kit js --file: {path} is missing from this installation (reinstall connect-conformance)"
        )
    print(path)
    return ExitCode.OK
