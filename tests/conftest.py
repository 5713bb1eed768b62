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
