"""Exports of other onnxruntime-genai builder paths (tests/fixtures/llm-variants, made by
benchmarks/llm_exports.py):

- llama-fp16-dml: a separate com.microsoft RotaryEmbedding per Q and K, 3-D, with num_heads=0
  (onnxruntime takes the heads from the cache width; TensorRT-RTX's importer divides by it and
  the parser process dies), then GroupQueryAttention without rotary, and a position_ids input.
- qwen3-fp16-cuda: GroupQueryAttention with the per-head Q/K RMSNorm fused in
  (q_norm_weight/k_norm_weight; onnxruntime has only a CUDA kernel for it).

Static verdicts, trt-rewrite --auto on the exports as shipped (external weights beside
genai_config.json), the parser's verdict on the result and an fp16 AOT build."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from _parser_helpers import requires_rtx

from trtforge.analyzer import check

FIXTURES = Path(__file__).parent.parent / "fixtures" / "llm-variants"


def _codes(report, op: str) -> set[str]:
    return {f.code for n in report.nodes if n.op_type == op for f in n.errors}


def test_static_verdicts():
    dml = check(
        onnx.load(FIXTURES / "llama-fp16-dml" / "model.onnx"), target="rtx-1", backend="static"
    )
    assert _codes(dml, "RotaryEmbedding") == {"rotaryembedding/num-heads-zero"}
    assert sum(n.op_type == "RotaryEmbedding" for n in dml.unsupported_nodes) == 4
    assert "groupqueryattention/plugin-missing" in _codes(dml, "GroupQueryAttention")
    qwen3 = check(
        onnx.load(FIXTURES / "qwen3-fp16-cuda" / "model.onnx"), target="rtx-1", backend="static"
    )
    assert {n.op_type for n in qwen3.unsupported_nodes} == {"GroupQueryAttention"}
    for report in (dml, qwen3):
        fixes = {f.name for n in report.unsupported_nodes for f in n.fixes}
        assert "decompose-gqa" in fixes


def _rewrite(name: str, tmp: Path, *extra: str) -> tuple[Path, dict]:
    src = tmp / "in" / "model.onnx"
    src.parent.mkdir()
    onnx.save(
        onnx.load(FIXTURES / name / "model.onnx"),
        src,
        save_as_external_data=True,
        location="model.onnx.data",
        size_threshold=0,
    )
    shutil.copy(FIXTURES / name / "genai_config.json", src.parent)
    out = tmp / "out" / "model.onnx"
    out.parent.mkdir()
    shutil.copy(FIXTURES / name / "genai_config.json", out.parent)
    report = tmp / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "trtforge.analyzer.cli.rewrite", str(src), "-o", str(out)]
        + ["--auto", "--target", "rtx-1", "--report", str(report), *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    onnx.checker.check_model(str(out))
    return out, json.loads(report.read_text())


@pytest.fixture(scope="module")
def dml(tmp_path_factory):
    return _rewrite("llama-fp16-dml", tmp_path_factory.mktemp("dml"))


@pytest.fixture(scope="module")
def qwen3(tmp_path_factory):
    # onnxruntime cannot run the original on CPU (no CPU kernel for the fused Q/K norm): the
    # decomposition is checked against explicit norms in tests/rewrite/test_decompose_gqa.py
    return _rewrite("qwen3-fp16-cuda", tmp_path_factory.mktemp("qwen3"), "--no-verify")


def test_auto_rewrites_and_verifies_the_dml_export(dml):
    out, report = dml
    assert report["verification"]["ok"] and report["auto"]["unsupported_after"] == 0
    ops = {n.op_type for n in onnx.load(out).graph.node}
    assert not ops & {"RotaryEmbedding", "GroupQueryAttention"}


def test_auto_decomposes_the_fused_qk_norm(qwen3):
    out, report = qwen3
    assert report["auto"]["unsupported_after"] == 0
    assert "GroupQueryAttention" not in {n.op_type for n in onnx.load(out).graph.node}


@requires_rtx
@pytest.mark.parser
@pytest.mark.parametrize("which", ["dml", "qwen3"])
def test_parser_accepts_the_result_and_it_builds(which, request):
    out, _ = request.getfixturevalue(which)
    report = check(out, target="rtx-1", backend="parser")
    assert report.summary["unsupported"] == 0, [n.op_type for n in report.unsupported_nodes]
    engine = out.with_suffix(".plan")
    proc = subprocess.run(
        [sys.executable, "-m", "trtforge.plugins.cli.build", str(out), "-o", str(engine)]
        + ["--compute-capability", "8.9"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    side = json.loads(engine.with_name(engine.name + ".json").read_text())
    assert side["dims"]["past_sequence_length"]["min"] == 0


@requires_rtx
@pytest.mark.parser
def test_qwen3_static_verdicts_match_the_parser():
    model = onnx.load(FIXTURES / "qwen3-fp16-cuda" / "model.onnx")
    static = check(model, target="rtx-1", backend="static")
    parser = check(model, target="rtx-1", backend="parser")
    assert [n.status for n in static.nodes] == [n.status for n in parser.nodes]
