"""Shared by the verify test files: run the real ``verify`` command on a script of
``tests/verify_scripts`` and read back its ``--json`` report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).parent / "verify_scripts"
SRC = Path(__file__).resolve().parents[1] / "src"


class Verified:
    """Outcome of one `verify` command."""

    def __init__(self, proc: subprocess.CompletedProcess[str], report: dict[str, Any] | None) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.report = report or {}

    def __repr__(self) -> str:  # shown by pytest on failure
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err[-3000:]}"


def verify_env() -> dict[str, str]:
    """This interpreter's environment for a verify command, with this checkout's ``src`` first."""
    env = dict(os.environ)
    env.pop("PYTHONHASHSEED", None)  # the verifier varies it per run
    env.pop("TF_USE_LEGACY_KERAS", None)  # scripts choose their Keras themselves
    env["PYTHONPATH"] = os.pathsep.join([str(SRC)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def verify(tmp: Path, script: str | Path, *options: str, cwd: Path = SCRIPTS, timeout: float = 400) -> Verified:
    """Run the real command; always ask for --json so tests can inspect it."""
    out = tmp / f"report-{len(list(tmp.glob('report-*.json')))}.json"
    cmd = [sys.executable, "-m", "tf_repro_migrate.verify.cli", str(script), "--json", str(out), *options]
    proc = subprocess.run(cmd, cwd=cwd, env=verify_env(), capture_output=True, text=True, timeout=timeout)
    report = json.loads(out.read_text()) if out.exists() else None
    return Verified(proc, report)


def main_runs(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's main runs (not the diagnostic re-runs)."""
    return [r for r in report["runs"] if r["main"]]
