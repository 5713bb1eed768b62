"""The onnxruntime-genai fixtures (tests/fixtures/llm) through the whole path for TensorRT-RTX:
the passes trt-rewrite --auto applies remove every node the parser rejects, the rewritten decoder computes what the
original does (prefill with an empty cache and a step after a cache), and an fp16 export builds
ahead of time for SM89 with the profiles trt-build derives from its genai_config.json."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from _parser_helpers import requires_rtx

from trtforge.analyzer import check
from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
from trtforge.analyzer.rewrite.verify import run_model
from trtforge.analyzer.targets import parse_target

pytestmark = [pytest.mark.parser, requires_rtx]

FIXTURES = Path(__file__).parent.parent / "fixtures" / "llm"
MODELS = sorted(p.name for p in FIXTURES.iterdir() if (p / "model.onnx").exists())


def _cli(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=600
    )


def _feeds(model: onnx.ModelProto, past: int, seq: int, head: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {}
    for value in model.graph.input:
        elem = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
        dims = [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        if value.name == "input_ids":
            feeds[value.name] = rng.integers(0, 64, (2, seq)).astype(elem)
        elif value.name == "attention_mask":
            feeds[value.name] = np.ones((2, past + seq), elem)
        else:  # past_key_values.N.key/value: (batch, kv heads, past, head size)
            feeds[value.name] = rng.standard_normal((2, dims[1], past, head)).astype(elem)
    return feeds


def _auto(name: str, folder: Path) -> Path:
    """trt-rewrite --auto --target rtx-1, in process: the passes trt-check's fixes name."""
    shutil.copy(FIXTURES / name / "genai_config.json", folder)
    model = onnx.load(FIXTURES / name / "model.onnx")
    report = check(model, target="rtx-1", backend="static")
    passes = {f.name for n in report.unsupported_nodes for f in n.fixes if f.kind == "rewrite"}
    assert "decompose-gqa" in passes
    result = rewrite_model(model, sorted(passes), RewriteOptions(parse_target("rtx-1")))
    out = folder / "model.onnx"
    onnx.save(result.proto, out)
    return out


@pytest.fixture(scope="module", params=MODELS)
def rewritten(request, tmp_path_factory):
    """(name, original, rewritten path) after the passes --auto applies for rtx-1."""
    name = request.param
    out = _auto(name, tmp_path_factory.mktemp(name))
    return name, onnx.load(FIXTURES / name / "model.onnx"), out


def test_nothing_the_parser_rejects_is_left(rewritten):
    _, _, path = rewritten
    report = check(path, target="rtx-1", backend="parser")
    assert report.summary["unsupported"] == 0, [
        (n.name, n.op_type) for n in report.unsupported_nodes
    ]
    ops = {n.op_type for n in onnx.load(path).graph.node}
    assert not ops & {"GroupQueryAttention", "MatMulNBits", "GatherBlockQuantized"}


@pytest.mark.parametrize(("past", "seq"), [(0, 5), (4, 1)], ids=["prefill", "decode"])
def test_rewritten_decoder_matches_the_original(rewritten, past, seq):
    name, original, path = rewritten
    head = json.loads((FIXTURES / name / "genai_config.json").read_text())["model"]["decoder"][
        "head_size"
    ]
    feeds = _feeds(original, past, seq, head)
    want, got = run_model(original, feeds), run_model(onnx.load(path), feeds)
    tol = 2e-2 if ("cuda" in name or "int4" in name) else 1e-4  # fp16 / int4 dequantization
    for out in want:
        np.testing.assert_allclose(
            got[out].astype(np.float32), want[out].astype(np.float32), rtol=tol, atol=tol
        )


def test_fp16_export_builds_with_genai_profiles(tmp_path):
    path = _auto("llama-fp16-cuda", tmp_path)
    engine = path.with_suffix(".plan")
    proc = _cli(
        "trtforge.plugins.cli.build", str(path), "-o", str(engine), "--compute-capability", "8.9"
    )
    assert proc.returncode == 0, proc.stderr
    side = json.loads(engine.with_name(engine.name + ".json").read_text())
    assert side["dims"]["past_sequence_length"]["min"] == 0
    assert side["dims"]["past_sequence_length"]["source"] == "genai_config.json"
