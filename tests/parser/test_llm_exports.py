"""LLMs exported by onnxruntime-genai's model builder (tests/fixtures/llm, made by
benchmarks/llm_exports.py): static verdicts for every target, the same verdicts from
TensorRT-RTX's parser node by node, and dequantize-nbits removing what the parser rejects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from _parser_helpers import requires_rtx

from trtforge.analyzer import check
from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
from trtforge.analyzer.rewrite.verify import run_model
from trtforge.analyzer.targets import parse_target

FIXTURES = Path(__file__).parent.parent / "fixtures" / "llm"
MODELS = sorted(p.name for p in FIXTURES.iterdir() if (p / "model.onnx").exists())
QUANTIZED = {"MatMulNBits", "GatherBlockQuantized"}


def _load(name: str) -> onnx.ModelProto:
    return onnx.load(FIXTURES / name / "model.onnx")


def _decoder_feeds(model: onnx.ModelProto, past: int, seq: int) -> dict[str, np.ndarray]:
    """One prefill-after-cache step: token ids, an all-ones mask over past + new tokens, and
    random KV caches (head size from the fixture's genai_config.json)."""
    rng = np.random.default_rng(0)
    feeds = {}
    for value in model.graph.input:
        elem = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
        dims = [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        if value.name == "input_ids":
            feeds[value.name] = rng.integers(0, 64, (1, seq)).astype(elem)
        elif value.name == "attention_mask":
            feeds[value.name] = np.ones((1, past + seq), elem)
        else:  # [batch, kv heads, past, head size]
            shape = (1, dims[1], past, 16)
            feeds[value.name] = rng.standard_normal(shape).astype(elem)
    return feeds


def _rejected(report) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for node in report.nodes:
        if node.status == "unsupported":
            out.setdefault(node.op_type, []).extend(f.code for f in node.errors)
    return out


def test_fixtures_cover_the_variants():
    assert len(MODELS) >= 6
    for variant in ("fp32-cpu", "int4-cpu", "fp16-cuda", "int4-cuda"):
        assert any(m.endswith(variant) for m in MODELS), variant


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("target", ["rtx-1", "trt-10", "trt-11"])
def test_static_verdicts_name_the_fixes(name, target):
    model = _load(name)
    report = check(model, target=target, backend="static")
    rejected = _rejected(report)
    ops = {n.op_type for n in model.graph.node}
    assert "GroupQueryAttention" in rejected  # a plugin on RTX, no importer on TensorRT
    assert QUANTIZED & ops == QUANTIZED & set(rejected)
    for node in report.nodes:
        if node.op_type in QUANTIZED:
            passes = {f.name for e in node.errors for f in e.fixes if f.kind == "rewrite"}
            assert "dequantize-nbits" in passes, node.errors
    if target == "rtx-1":
        codes = rejected["GroupQueryAttention"]
        assert "groupqueryattention/plugin-missing" in codes
        if "MatMulNBits" in rejected:
            fp16 = "fp16" in name or "cuda" in name
            assert ("matmulnbits/activation-dtype" in rejected["MatMulNBits"]) != fp16
    else:  # SimplifiedLayerNormalization & co have no importer in the open-source parser
        assert "SkipSimplifiedLayerNormalization" in rejected


@requires_rtx
@pytest.mark.parametrize("name", MODELS)
def test_static_rtx_verdicts_match_the_parser(name):
    model = _load(name)
    static = check(model, target="rtx-1", backend="static")
    parser = check(model, target="rtx-1", backend="parser")
    assert static.supported == parser.supported
    diff = [
        f"{s.name} ({s.op_type}): static {s.status}, parser {p.status}"
        for s, p in zip(static.nodes, parser.nodes, strict=True)
        if s.status != p.status
    ]
    assert not diff, diff


@requires_rtx
@pytest.mark.parametrize("name", [m for m in MODELS if "int4" in m])
def test_dequantize_nbits_leaves_nothing_quantized_the_parser_rejects(name):
    model = _load(name)
    result = rewrite_model(model, ["dequantize-nbits"], RewriteOptions(parse_target("rtx-1")))
    assert result.passes["dequantize-nbits"].applied >= 11
    assert any("INT4 blocked DequantizeLinear" in n for n in result.notes)
    feeds = _decoder_feeds(model, past=4, seq=3)
    want, got = run_model(model, feeds), run_model(result.proto, feeds)
    tol = 1e-2 if "cuda" in name else 1e-4  # the cuda exports compute in FLOAT16
    for out in want:
        np.testing.assert_allclose(
            got[out].astype(np.float32), want[out].astype(np.float32), rtol=tol, atol=tol
        )
    parsed = check(result.proto, target="rtx-1", backend="parser")
    assert set(_rejected(parsed)) == {"GroupQueryAttention"}


@pytest.mark.parametrize("target, plugin", [("rtx-1", False), ("trt-10", True)])
def test_contrib_ops_with_an_importer_are_not_plugins(target, plugin):
    """trt-build's plugin check: TensorRT-RTX imports com.microsoft
    SkipSimplifiedLayerNormalization by op_type; TensorRT would look it up as a plugin."""
    from trtforge.plugins import registry

    model = _load("llama-fp16-cuda")
    found = {n.op_type for _, n, _ in registry.plugin_nodes(model, parse_target(target))}
    assert ("SkipSimplifiedLayerNormalization" in found) == plugin
    assert "GroupQueryAttention" in found or target == "rtx-1"


@requires_rtx
def test_fp16_export_builds_after_auto_rewrite(tmp_path):
    """trt-rewrite --auto for rtx-1, then trt-build AOT for SM89 with the KV-cache dims taken
    from genai_config.json beside the model."""
    import shutil
    import subprocess
    import sys

    shutil.copy(FIXTURES / "llama-fp16-cuda" / "genai_config.json", tmp_path)
    out = tmp_path / "model.onnx"
    bindir = Path(sys.executable).parent
    rewrite = subprocess.run(
        [
            bindir / "trt-rewrite",
            FIXTURES / "llama-fp16-cuda" / "model.onnx",
            "-o",
            out,
            "--auto",
            "--target",
            "rtx-1",
            "--no-verify",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rewrite.returncode == 0, rewrite.stderr
    build = subprocess.run(
        [bindir / "trt-build", out, "-o", tmp_path / "m.engine", "--compute-capability", "8.9"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    assert (tmp_path / "m.engine").stat().st_size > 0
