"""``connect-conformance adapter-kit`` and ``init``: where the kit is, and the project ``init`` writes
(run in-process; the projects are run for real in tests/integration/test_adapter_kit_projects.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
import yaml

from conformance.adapters.base import JS_KIT_ENV, RunContext, js_kit_folder, launch_environment
from conformance.cli import main
from conformance.commands.adapter_kit import JS_MODULES
from conformance.core.certificates import RunCertificates
from conformance.execution import expectations
from conformance.exitcodes import ExitCode


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_adapter_kit_js_prints_the_folder_of_the_kits_modules(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "adapter-kit", "js")
    assert code == ExitCode.OK
    folder = Path(out.strip())
    assert folder == js_kit_folder()
    assert sorted(path.name for path in folder.iterdir() if path.name in JS_MODULES) == sorted(JS_MODULES)


def test_adapter_kit_js_file_prints_one_module_and_refuses_others(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "adapter-kit", "js", "--file", "interpreter.js")
    assert code == ExitCode.OK
    assert Path(out.strip()) == js_kit_folder() / "interpreter.js"
    code, out, err = cli(capsys, "adapter-kit", "js", "--file", "node-socket.mjs")
    assert code == ExitCode.USAGE
    assert out == ""
    assert "no module 'node-socket.mjs' in the kit" in err
    assert "interpreter.js, stdio.js" in err


def test_adapter_kit_python_prints_an_import_that_works(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "adapter-kit", "python")
    assert code == ExitCode.OK
    first = out.splitlines()[0]
    assert first == "from conformance.adapter_kit import create_adapter, run_stdio"
    namespace: dict[str, object] = {}
    exec(first, namespace)
    assert callable(namespace["create_adapter"])
    assert cli(capsys, "adapter-kit", "python", "--file", "x.js")[0] == ExitCode.USAGE


def test_every_adapter_the_harness_starts_is_told_where_the_js_kit_is() -> None:
    certificates = SimpleNamespace(ca_pem="-----BEGIN CERTIFICATE-----", ca_file="/run/ca.pem")
    environment = launch_environment(RunContext(cast(RunCertificates, certificates)))
    assert environment["CONNECT_CONFORMANCE_CA_FILE"] == "/run/ca.pem"
    assert environment[JS_KIT_ENV] == str(js_kit_folder())
    assert (Path(environment[JS_KIT_ENV]) / "interpreter.js").is_file()


def test_init_js_writes_the_shell_launcher_expectations_readme_and_workflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "my-runtime"
    code, out, _ = cli(capsys, "init", "js", str(project))
    assert code == ExitCode.OK
    written = sorted(str(path.relative_to(project)) for path in project.rglob("*") if path.is_file())
    assert written == [
        ".github/workflows/connect-conformance.yml",
        "README.md",
        "adapter.mjs",
        "adapter.sh",
        "connect.mjs",
        "expectations.yaml",
        "package.json",
    ]
    assert out.count("wrote ") == len(written)
    shell = (project / "adapter.mjs").read_text()
    assert 'from "./connect.mjs"' in shell
    assert 'name: "my-runtime"' in shell
    assert '["ipv6", "tls", "starttls", "unhandled-rejections"]' in shell
    assert "CONNECT_CONFORMANCE_JS_KIT" in shell
    assert len(shell.splitlines()) <= 60
    launcher = project / "adapter.sh"
    assert launcher.stat().st_mode & 0o111
    assert 'NODE_EXTRA_CA_CERTS="$CONNECT_CONFORMANCE_CA_FILE" exec node' in launcher.read_text()
    known = expectations.load(project / "expectations.yaml")
    assert (known.implementation, known.cases) == ("my-runtime", {})
    workflow = yaml.safe_load((project / ".github/workflows/connect-conformance.yml").read_text())
    steps = workflow["jobs"]["conformance"]["steps"]
    gate = [step["run"] for step in steps if "run" in step and "connect-conformance run" in step["run"]]
    assert gate == ["connect-conformance run --adapter stdio:./adapter.sh --expectations expectations.yaml"]
    assert any(step.get("uses", "").startswith("actions/setup-node") for step in steps)
    readme = (project / "README.md").read_text()
    assert "--update-expectations expectations.yaml" in readme
    assert "unreviewed: true" in readme


def test_init_python_imports_the_given_module_and_declares_the_given_capabilities(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "py"
    args = ["init", "python", str(project), "--name", "toy", "--connect-from", "toy_adapter", "--capabilities", ""]
    assert cli(capsys, *args)[0] == ExitCode.OK
    assert sorted(path.name for path in project.iterdir()) == [
        ".github",
        "README.md",
        "adapter.py",
        "expectations.yaml",
    ]
    shell = (project / "adapter.py").read_text()
    assert "from toy_adapter import connect" in shell
    assert "CAPABILITIES = []" in shell
    assert 'NAME = "toy"' in shell
    compile(shell, "adapter.py", "exec")
    assert "stdio:python adapter.py" in (project / "README.md").read_text()


def test_init_refuses_a_folder_that_is_not_empty_and_forced_keeps_what_is_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "package.json").write_text('{"name": "mine"}')
    code, _, err = cli(capsys, "init", "js", str(tmp_path))
    assert code == ExitCode.USAGE
    assert "is not empty (notes.txt, package.json)" in err
    assert "--force" in err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt", "package.json"]
    code, out, _ = cli(capsys, "init", "js", str(tmp_path), "--force")
    assert code == ExitCode.OK
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "package.json").read_text() == '{"name": "mine"}'
    assert f"kept {tmp_path / 'package.json'}: it exists" in out
    assert (tmp_path / "adapter.mjs").is_file()


def test_init_refuses_unknown_capabilities_and_a_runtime_for_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "init", "js", str(tmp_path / "a"), "--capabilities", "ipv6,tsl")
    assert code == ExitCode.USAGE
    assert "unknown tsl" in err
    assert cli(capsys, "init", "python", str(tmp_path / "b"), "--runtime", "deno")[0] == ExitCode.USAGE
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(("runtime", "started"), [("deno", "DENO_CERT="), ("bun", "exec bun ")])
def test_init_js_starts_the_chosen_runtime_with_the_runs_ca(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], runtime: str, started: str
) -> None:
    args = ["init", "js", str(tmp_path), "--runtime", runtime, "--connect-from", "@scope/sockets"]
    assert cli(capsys, *args)[0] == ExitCode.OK
    assert started in (tmp_path / "adapter.sh").read_text()
    assert 'from "@scope/sockets"' in (tmp_path / "adapter.mjs").read_text()
    assert not (tmp_path / "connect.mjs").exists()
    assert f"{runtime} add " in (tmp_path / "README.md").read_text()
