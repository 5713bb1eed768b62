"""Shared test helpers: models are built in the tests, never read from machine-local paths."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

HAS_RTX = importlib.util.find_spec("tensorrt_rtx") is not None
HAS_TRT = importlib.util.find_spec("tensorrt") is not None


def run_cli(module: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs `python -m <module> args…` and returns the completed process (text mode)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


requires_parser = pytest.mark.skipif(
    not (HAS_RTX or HAS_TRT), reason="needs tensorrt or tensorrt_rtx"
)


#: entries the test run itself may add to the folder it runs from
_RUN_LEFTOVERS = frozenset({".pytest_cache", "__pycache__", ".coverage"})


def pytest_sessionstart(session) -> None:
    import os

    session.config._trtforge_cwd_entries = set(os.listdir(os.getcwd()))


def pytest_sessionfinish(session, exitstatus) -> None:
    """No command may leave a file in the folder it runs from (onnxruntime's symbolic
    inference used to save `sym_shape_infer_temp.onnx` there): the run fails if the folder
    the tests ran from gained an entry."""
    import os

    before = getattr(session.config, "_trtforge_cwd_entries", None)
    if before is None:
        return
    new = set(os.listdir(os.getcwd())) - before - _RUN_LEFTOVERS
    if new:
        sys.stderr.write(f"\nerror: the tests left files in the working folder: {sorted(new)}\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
