"""TopK.

Sources: onnx-tensorrt docs/operators.md (TopK row: "`K` input must be less than 3840") and
onnxOpImporters.cpp importTopK (UINT8 refused; opset < 10 takes K as an attribute); TensorRT
API docs, ITopKLayer (K <= 3840); observed with the TensorRT-RTX 1.7.1 parser: K may be a
network input or computed from shapes, `sorted=0` is accepted, INT32/INT64/FLOAT16/BFLOAT16
data is accepted, and K = 4000 still parses: the builder refuses it ("K exceeds the maximum
value allowed (3840)"), so the node does not build — an error (it was a warning, and
trt-check said SUPPORTED of a model trt-build then failed on). A K input of dynamic length
(1-D, symbolic dim) crashes the parser process (SIGSEGV; probes `topk_k_dynlen_*`, whatever
the data's dims); K of shape [1], [] or unknown rank parses. Not verified with TensorRT:
reported there as a warning.
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._compute import is_dynamic_dim, scalar
from trtforge.analyzer.kb.ops._tensor_common import INDEX, OBSERVED
from trtforge.analyzer.kb.policy import FLOATS
from trtforge.analyzer.kb.rule import NodeContext, OpRule

SOURCE = "onnx-tensorrt docs/operators.md (TopK); onnxOpImporters.cpp importTopK; ITopKLayer docs"
MAX_K = 3840


def _k_of_dynamic_length(ctx: NodeContext):
    info = ctx.input(1) if ctx.opset >= 10 else None
    if info is None or info.shape is None or len(info.shape) != 1:
        return None
    if not is_dynamic_dim(info, info.shape[0]):
        return None
    return ctx.finding(
        "k-dynamic-length",
        f"K ('{ctx.node.input[1]}') is a 1-D tensor of dynamic length {list(info.shape)}; the "
        "TensorRT-RTX 1.7.1 parser crashes on it (segmentation fault)"
        + ("" if ctx.target.family == "rtx" else "; not verified with TensorRT"),
        "give K the static shape [1] (it holds one value), e.g. in the exporter or with a "
        "Reshape to [1] before the TopK",
        severity="error" if ctx.target.family == "rtx" else "warning",
        source=OBSERVED,
    )


def _check(ctx: NodeContext):
    finding = _k_of_dynamic_length(ctx)
    if finding is not None:
        yield finding
    k = scalar(ctx.input_value(1)) if ctx.opset >= 10 else ctx.attr("k")
    if not isinstance(k, int) or isinstance(k, bool):
        return  # not known, or not one integer (an invalid K: `validity` says so)
    if k > MAX_K:
        yield ctx.finding(
            "k-too-large",
            f"K={k} exceeds TensorRT's TopK limit of {MAX_K}; the parser accepts the node but "
            "the engine build fails",
            "split the TopK into chunks of at most 3840, or sort instead",
            source=SOURCE,
        )


RULES = [
    OpRule(
        op="TopK",
        source=f"{SOURCE}; {OBSERVED}",
        types={0: FLOATS | {"DOUBLE", "INT32", "INT64", "INT8"}, 1: INDEX},
        check=_check,
    )
]
