"""decompose-gqa's output is a model TensorRT-RTX's real parser accepts in full (no
com.microsoft node left), for the variants onnxruntime-genai exports."""

from __future__ import annotations

import onnx
import pytest
from _gqa_models import GQAConfig, gqa_model, rotary_model
from _parser_helpers import requires_rtx
from onnx import TensorProto

from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
from trtforge.analyzer.targets import parse_target

pytestmark = [pytest.mark.parser, requires_rtx]

CASES = {
    "everything": (
        gqa_model(
            GQAConfig(
                head=16, kv_heads=1, packed=True, rotary=True, softcap=3.0, window=3, smooth=True
            )
        ),
        "decomposed",
    ),
    "fp16-interleaved-rotary": (
        gqa_model(GQAConfig(head=16, rotary=True, interleaved=True, dtype=TensorProto.FLOAT16)),
        "decomposed",
    ),
    "head-sink-no-past": (gqa_model(GQAConfig(head_sink=True, past=False)), "decomposed"),
    "onnx-attention": (
        gqa_model(GQAConfig(head=64, rotary=True, opset=23, dtype=TensorProto.FLOAT16)),
        "onnx-attention",
    ),
    "rotary-embedding": (rotary_model(["batch", "seq", 64], 4, 8, True, False), "decomposed"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_decomposed_model_parses_with_tensorrt_rtx(tmp_path, name):
    from trtforge.analyzer.api import check

    model, impl = CASES[name]
    rewritten = rewrite_model(
        model, ["decompose-gqa"], RewriteOptions(parse_target("rtx-1"), gqa_impl=impl)
    ).proto
    assert not [n.op_type for n in rewritten.graph.node if n.domain == "com.microsoft"]
    path = tmp_path / "m.onnx"
    onnx.save(rewritten, path)
    report = check(path, backend="parser")
    assert report.backend == "parser"
    assert report.summary["unsupported"] == 0, [
        (n.name, [r.message for r in n.reasons]) for n in report.unsupported_nodes
    ]


def test_parser_rejection_names_decompose_gqa(tmp_path):
    """RTX's importer wants a GroupQueryAttention plugin the PyPI build lacks; the report
    names the pass that replaces the node, even where the knowledge base expects an importer."""
    from trtforge.analyzer.api import check

    path = tmp_path / "gqa.onnx"
    onnx.save(gqa_model(GQAConfig(head=16, rotary=True)), path)
    report = check(path, backend="parser")
    (node,) = report.unsupported_nodes
    assert node.op_type == "GroupQueryAttention"
    fixes = {(f.kind, f.name) for r in node.reasons for f in r.fixes}
    assert ("rewrite", "decompose-gqa") in fixes
