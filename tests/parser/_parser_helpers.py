"""Helpers for the parser-backend and agreement tests."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import onnx
import onnx.parser
import pytest

HAS_RTX = importlib.util.find_spec("tensorrt_rtx") is not None
HAS_TRT = importlib.util.find_spec("tensorrt") is not None
requires_parser = pytest.mark.skipif(
    not (HAS_RTX or HAS_TRT), reason="needs tensorrt or tensorrt_rtx"
)
requires_rtx = pytest.mark.skipif(not HAS_RTX, reason="needs tensorrt_rtx")


def run_cli(module: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs `python -m <module> args…` and returns the completed process (text mode)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout
    )


def save_text_model(folder: Path, text: str, name: str = "m.onnx") -> Path:
    """Writes a model given in ONNX text syntax and returns its path."""
    path = folder / name
    onnx.save(onnx.parser.parse_model(text), path)
    return path
