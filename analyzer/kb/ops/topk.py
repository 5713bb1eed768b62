"""TopK.

Source: onnx-tensorrt docs/operators.md (TopK row) and onnxOpImporters.cpp importTopK;
TensorRT API docs, ITopKLayer (K ≤ 3840 as a build-time constant).
"""

from __future__ import annotations

from trtforge.analyzer.kb.policy import FLOATS
from trtforge.analyzer.kb.rule import NodeContext, OpRule

SOURCE = "onnx-tensorrt docs/operators.md (TopK); onnxOpImporters.cpp importTopK; ITopKLayer docs"
MAX_K = 3840


def _check(ctx: NodeContext):
    k = ctx.input_value(1) if ctx.opset >= 10 else ctx.attr("k")
    if k is not None:
        k = int(k.reshape(-1)[0]) if hasattr(k, "reshape") else int(k)
        if k > MAX_K:
            yield ctx.finding(
                "k-too-large",
                f"K={k} exceeds TensorRT's TopK limit of {MAX_K}",
                "split the TopK into chunks, or use a plugin",
                source=SOURCE,
            )


RULES = [
    OpRule(
        op="TopK",
        source=SOURCE,
        types={0: FLOATS | {"INT32", "INT64"}, 1: {"INT64"}},
        check=_check,
    )
]
