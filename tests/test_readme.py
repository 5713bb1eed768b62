"""The README's quick start works as written, and CI runs the README's test command."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _command_after(marker: str) -> str:
    match = re.search(rf"<!-- {marker} -->\s*```bash\n(.+?)\n```", README)
    assert match, f"README has no command after <!-- {marker} -->"
    return match.group(1).strip()


def test_quickstart_check_runs_and_reports_the_contrib_op() -> None:
    install, _, check = _command_after("quickstart-command").partition("&&")
    assert install.strip() == "pip install ."
    argv = shlex.split(check)
    assert argv[0] == "trt-check"
    proc = subprocess.run(
        [sys.executable, "-m", "trtforge.analyzer.cli.check", *argv[1:], "--backend", "static"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "FastGelu" in proc.stdout and "--decompose-contrib" in proc.stdout


def test_ci_runs_the_readme_test_command() -> None:
    command = _command_after("ci-test-command")
    extracted = subprocess.run(
        [
            "awk",
            r"/<!-- ci-test-command -->/{found=1; next} found && /^```bash/{getline; print; exit}",
            "README.md",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert extracted == command
    assert "awk '/<!-- ci-test-command -->/" in (REPO / ".ci" / "run").read_text()
