"""Every console command leaves through `exit_now`, never through Python's teardown.

The teardown puts the default signal handlers back while the process still runs: a SIGINT or
SIGTERM arriving then killed a trt-rewrite whose output was already complete (fuzz seed 2051,
a SIGTERM 0.36 s into the run), so a caller saw a run that died of a signal and a written
file. Each command's entry point runs `main()` and exits at once with its status, the
handlers still deferring signals (`outputs.signal_guard`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")

REPO = Path(__file__).resolve().parents[1]

#: each command with arguments that fail fast (exit 2) without a GPU or TensorRT
FAILING_RUNS = {
    "trt-check": ["/nonexistent/model.onnx"],
    "trt-rewrite": ["/nonexistent/model.onnx", "-o", "/nonexistent/out.onnx"],
    "trt-quantize": ["/nonexistent/model.onnx", "-o", "/nonexistent/out.onnx"],
    "trt-build": ["/nonexistent/model.onnx", "-o", "/nonexistent/out.plan"],
    "trt-plugin": ["test", "NoSuchPlugin"],
}


def _scripts() -> dict[str, str]:
    with open(REPO / "pyproject.toml", "rb") as toml:
        return tomllib.load(toml)["project"]["scripts"]


def test_every_command_is_a_console_main():
    assert set(_scripts()) == set(FAILING_RUNS)
    for command, target in _scripts().items():
        assert target.endswith(":console_main"), (command, target)


@pytest.mark.parametrize("command", sorted(FAILING_RUNS))
def test_console_main_exits_without_teardown(command):
    """An atexit handler (run by Python's teardown, skipped by `os._exit`) never runs, and
    the status is the command's."""
    module, function = _scripts()[command].split(":")
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('TEARDOWN', flush=True))\n"
        f"sys.argv = [{command!r}, *sys.argv[1:]]\n"
        f"from {module} import {function}\n"
        f"{function}()\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, *FAILING_RUNS[command]],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 2, run.stderr
    assert "TEARDOWN" not in run.stdout
    assert run.stderr.startswith(f"{command}: error:"), run.stderr
