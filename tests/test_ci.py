"""``.ci/run``: the linter, the formatter check and the type checker run before the tests, and any failure
stops the run. Checked with a stand-in ``uv`` on PATH that logs its arguments (nothing is installed or run)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKS = ["run --locked ruff check", "run --locked ruff format --check", "run --locked mypy"]

FAKE_UV = """#!/usr/bin/env bash
echo "${{UV_COMPILE_BYTECODE:+UV_COMPILE_BYTECODE=$UV_COMPILE_BYTECODE }}$*" >> "{log}"
if [ "$*" = "{fail}" ]; then exit 1; fi
exit 0
"""


def _run_ci(tmp_path: Path, fail: str) -> tuple[int, list[str]]:
    log = tmp_path / "uv.log"
    fake = tmp_path / "bin" / "uv"
    fake.parent.mkdir()
    fake.write_text(FAKE_UV.format(log=log, fail=fail))
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "UV_COMPILE_BYTECODE"}  # as .ci/run sets it, per command
    env["PATH"] = f"{fake.parent}{os.pathsep}{os.environ['PATH']}"
    proc = subprocess.run(["bash", str(ROOT / ".ci" / "run")], env=env, capture_output=True, text=True, check=False)
    return proc.returncode, log.read_text().splitlines()


def test_ci_runs_the_checks_then_the_tests(tmp_path: Path) -> None:
    code, calls = _run_ci(tmp_path, fail="")
    assert code == 0
    assert calls[0] == "--version"
    assert calls[1] == "UV_COMPILE_BYTECODE=1 sync --locked"  # the environment compiled once, ahead
    assert calls[2:5] == CHECKS
    assert [c for c in calls[5:] if "pytest" in c] == calls[5:] and calls[5:], calls


@pytest.mark.parametrize("failing", CHECKS)
def test_ci_fails_and_stops_when_a_check_fails(tmp_path: Path, failing: str) -> None:
    code, calls = _run_ci(tmp_path, fail=failing)
    assert code != 0
    assert calls[-1] == failing
    assert not any("pytest" in c for c in calls), calls
