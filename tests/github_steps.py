"""Running a GitHub Actions job's steps here, as a runner would, to test what each step writes.

Only what our workflows use: ``run:`` steps under bash with the environment GitHub sets
(``GITHUB_STEP_SUMMARY``, ``GITHUB_OUTPUT``, ``GITHUB_ENV``, ``GITHUB_WORKSPACE``, ``RUNNER_TEMP``,
``CI``), ``steps.<id>.outputs.<name>`` and ``env.*`` in ``if:`` and ``${{ }}``, ``always()``,
``success()`` and ``failure()``. A ``uses:`` step is not run: it is recorded with its inputs,
for the test to check (``actions/checkout`` and ``setup-python`` have nothing to do here; an
``upload-artifact``'s path must exist). A composite action (``job=""``) gets its inputs' defaults
for the inputs not given, and its ``outputs`` are evaluated after its steps (``Job.action_outputs``).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class Step:
    name: str
    uses: str | None
    inputs: dict[str, Any]
    ran: bool
    code: int = 0
    stdout: str = ""
    stderr: str = ""


@dataclass
class Job:
    steps: list[Step] = field(default_factory=list)
    summary: str = ""
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    #: A composite action's ``outputs``, evaluated after its steps.
    action_outputs: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return any(step.ran and step.code != 0 for step in self.steps)

    def step(self, name: str) -> Step:
        return next(step for step in self.steps if step.name == name)


_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _value(expression: str, context: dict[str, Any]) -> str:
    expression = expression.strip()
    if expression.startswith(("'", '"')):
        return expression[1:-1]
    node: Any = context
    for part in expression.split("."):
        node = node.get(part, "") if isinstance(node, dict) else ""
    return str(node)


def _condition(text: str | None, context: dict[str, Any], failed: bool) -> bool:
    if text is None:
        return not failed
    text = _EXPRESSION.sub(lambda m: m.group(1), str(text)).strip()
    if text == "always()":
        return True
    if text == "failure()":
        return failed
    if text == "success()":
        return not failed
    match = re.fullmatch(r"(.+?)\s*(==|!=)\s*(.+)", text)
    if not match:
        raise ValueError(f"condition not understood by the test runner: {text}")
    left, operator, right = (_value(match.group(1), context), match.group(2), _value(match.group(3), context))
    holds = (left == right) if operator == "==" else (left != right)
    return holds and not failed


def _substitute(text: str, context: dict[str, Any]) -> str:
    return _EXPRESSION.sub(lambda m: _value(m.group(1), context), text)


def run_job(
    workflow: dict[str, Any],
    job: str,
    workspace: Path,
    env: dict[str, str],
    inputs: dict[str, str] | None = None,
    skip: set[str] | frozenset[str] = frozenset(),
) -> Job:
    """Run ``job`` of a parsed workflow (or the steps of a composite action with ``job=""``).

    Steps named in ``skip`` are recorded as not run (e.g. an install the test has done already).
    """
    temp = workspace / ".runner-temp"
    temp.mkdir(parents=True, exist_ok=True)
    files = {name: temp / name for name in ("step-summary.md", "output", "env", "path")}
    for path in files.values():
        path.write_text("")
    spec = workflow["jobs"][job] if job else workflow["runs"]
    base_env = {
        **os.environ,
        **{str(k): str(v) for k, v in (workflow.get("env") or {}).items()},
        **({str(k): str(v) for k, v in (spec.get("env") or {}).items()} if job else {}),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "RUNNER_TEMP": str(temp),
        "GITHUB_STEP_SUMMARY": str(files["step-summary.md"]),
        **env,
    }
    result = Job()
    defaults = {
        str(name): str(declared.get("default", ""))
        for name, declared in ((workflow.get("inputs") or {}) if not job else {}).items()
    }
    context: dict[str, Any] = {
        "steps": {},
        "env": base_env,
        "inputs": {**defaults, **(inputs or {})},
        "github": {"workspace": str(workspace)},
    }
    for index, raw in enumerate(spec["steps"]):
        name = str(raw.get("name") or raw.get("uses") or f"step {index}")
        ran = name not in skip and _condition(raw.get("if"), context, result.failed)
        step = Step(
            name, raw.get("uses"), {k: _substitute(str(v), context) for k, v in (raw.get("with") or {}).items()}, ran
        )
        result.steps.append(step)
        if not ran or step.uses:
            continue
        files["output"].write_text("")
        step_env = {**base_env, **{str(k): _substitute(str(v), context) for k, v in (raw.get("env") or {}).items()}}
        step_env["GITHUB_OUTPUT"] = str(files["output"])
        step_env["GITHUB_ENV"] = str(files["env"])
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", _substitute(str(raw["run"]), context)],
            cwd=workspace,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        step.code, step.stdout, step.stderr = done.returncode, done.stdout, done.stderr
        outputs = dict(line.split("=", 1) for line in files["output"].read_text().splitlines() if "=" in line)
        if raw.get("id"):
            context["steps"][raw["id"]] = {
                "outputs": outputs,
                "outcome": "success" if done.returncode == 0 else "failure",
            }
            result.outputs[raw["id"]] = outputs
        for line in files["env"].read_text().splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                base_env[key] = value
    result.summary = files["step-summary.md"].read_text()
    if not job:
        declared = workflow.get("outputs") or {}
        result.action_outputs = {str(k): _substitute(str(v.get("value", "")), context) for k, v in declared.items()}
    return result


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True; GitHub reads it as "on".
    if True in document:
        document["on"] = document.pop(True)
    return document
