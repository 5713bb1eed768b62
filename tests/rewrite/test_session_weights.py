"""A session whose graph was imported before its weights were loaded (trt-rewrite --auto: the
static check imports it, then dequantize-nbits needs the weights): the weight-loaded session's
graph holds the loaded weights, not the external references of the first import."""

from __future__ import annotations

from pathlib import Path

import onnx

from trtforge.analyzer.loading import load_model
from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
from trtforge.analyzer.session import ModelSession
from trtforge.analyzer.targets import parse_target

FIXTURE = Path(__file__).parent.parent / "fixtures" / "llm" / "llama-int4-cpu" / "model.onnx"


def test_weights_loaded_after_a_graph_import(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(
        onnx.load(FIXTURE), path, save_as_external_data=True, location="w.bin", size_threshold=0
    )
    session = ModelSession(load_model(path), True)
    session.graph()  # imported with the external references (what trt-check's advice does)
    result = rewrite_model(
        session.weights_loaded(), ["dequantize-nbits"], RewriteOptions(parse_target("rtx-1"))
    )
    stats = result.passes["dequantize-nbits"]
    assert stats.applied == 11 and not stats.skips, [s.reason for s in stats.skips]
