"""`rewrite_file()`: the Python API behind trt-rewrite, with the CLI's behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from trtforge.analyzer import UserError, check, rewrite_file

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "transformer_block.onnx"


def test_rewrite_file_auto_writes_a_verified_model_and_its_report(tmp_path):
    out, report_path = tmp_path / "out.onnx", tmp_path / "r.json"
    lines: list[str] = []
    result = rewrite_file(
        EXAMPLE, out, auto=True, target="trt-10", report_path=report_path, progress=lines.append
    )
    assert result.written and result.failure is None and result.verification.ok
    assert result.report == json.loads(report_path.read_text())
    assert result.report["auto"]["unsupported_after"] == 0
    assert lines[0].startswith("trt-check (trt-10") and lines[-1].endswith("0 after")
    onnx.checker.check_model(onnx.load(out))
    assert check(out, target="trt-10", backend="static").supported


def test_rewrite_file_takes_pass_options_by_name(tmp_path):
    out = tmp_path / "out.onnx"
    result = rewrite_file(
        EXAMPLE, out, ["fuse-layernorm"], target="trt-10", options={"layernorm_impl": "onnx"}
    )
    assert result.written and result.passes["fuse-layernorm"].applied == 2
    ops = {n.op_type for n in onnx.load(out).graph.node}
    assert "LayerNormalization" in ops


def test_rewrite_file_refuses_like_the_cli(tmp_path):
    with pytest.raises(UserError, match="no rewrite pass selected"):
        rewrite_file(EXAMPLE, tmp_path / "out.onnx")
    with pytest.raises(UserError, match="overwrite the input"):
        rewrite_file(EXAMPLE, EXAMPLE, ["fuse-layernorm"])
    assert not (tmp_path / "out.onnx").exists()
