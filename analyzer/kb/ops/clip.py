"""Clip.

Sources: onnxOpImporters.cpp importClip: UINT8 is refused; INT32/INT64 inputs, or `min`/`max`
given as tensors (not initializers), take the elementwise path, which accepts only FLOAT,
FLOAT16, BFLOAT16, INT32 and INT64 ("This version of TensorRT only supports floating-point,
INT32, or INT64 inputs for Clip!"); otherwise the activation path (IActivationLayer kCLIP).
Observed with the TensorRT-RTX 1.7.1 parser: INT8 Clip with tensor min/max fails (onnx test
test_clip_default_int8_*), with initializer bounds it parses.
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._compute import IMPORTERS, OBSERVED, OPS_MD, is_weights, src
from trtforge.analyzer.kb.policy import NUMERIC, QUANTIZED
from trtforge.analyzer.kb.rule import NodeContext, OpRule


def _check(ctx: NodeContext):
    data = ctx.input(0)
    if data is None or data.dtype not in QUANTIZED:
        return
    # an omitted bound written as an empty name still counts: the importer sees a null tensor
    # and takes the elementwise path (onnx test test_clip_default_int8_inbounds)
    dynamic = [i for i in (1, 2) if i < ctx.num_inputs and not is_weights(ctx, i)]
    if dynamic:
        yield ctx.finding(
            "quantized-dynamic-bounds",
            f"{data.dtype} input with min/max given as runtime tensors; that path takes only "
            "FLOAT, FLOAT16, BFLOAT16, INT32 and INT64",
            "give min/max as initializers (drop empty bound inputs), or clip before quantizing",
        )


RULES = [
    OpRule(
        op="Clip",
        source=src(f"{OPS_MD} (Clip row)", f"{IMPORTERS} importClip", OBSERVED),
        types={0: NUMERIC, 1: NUMERIC, 2: NUMERIC},
        check=_check,
    )
]
