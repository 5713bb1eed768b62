"""TensorRT's own ONNX extension ops (`TRT_*`), imported by op_type whatever the domain.

ModelOpt / TensorRT tooling emit these (often under a `trt` domain). The parser has built-in
importers for them, so they are not plugin lookups — except TRT_PluginV2, which TensorRT-RTX
lacks.

Sources: onnx-tensorrt onnxOpImporters.cpp (release/10.1: TRT_Scale, TRT_Shuffle,
TRT_TopK_Min, TRT_MatMul, TRT_RaggedSoftmax, TRT_MaxAverageBlendPool, TRT_PluginV2, TRT_Gather,
TRT_Slice, TRT_Resize, TRT_FloorDiv, TRT_Conv, TRT_Deconv, TRT_MaxPool, TRT_AveragePool,
TRT_FP8/INT4 Quantize/DequantizeLinear; a newer copy adds TRT_QuantizedAttention); TensorRT
11.0 release notes ("Added support for custom operators TRT_Attention, TRT_MoE, and
TRT_KVCacheUpdate"); observed with the TensorRT-RTX 1.7.1 parser: every name above reaches its
importer (errors about its inputs), TRT_PluginV2 gives "Plugin not found".
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._tensor_common import OBSERVED, OPSRC
from trtforge.analyzer.kb.rule import OpRule, Since

SOURCE = f"{OPSRC} (TRT_* importers); {OBSERVED}"
TRT10 = Since(trt=(10, 0), rtx=(1, 0))

LEGACY = (
    "TRT_Scale",
    "TRT_Shuffle",
    "TRT_TopK_Min",
    "TRT_MatMul",
    "TRT_RaggedSoftmax",
    "TRT_MaxAverageBlendPool",
    "TRT_Gather",
    "TRT_Slice",
    "TRT_Resize",
    "TRT_FloorDiv",
    "TRT_Conv",
    "TRT_Deconv",
    "TRT_MaxPool",
    "TRT_AveragePool",
    "TRT_FP8QuantizeLinear",
    "TRT_FP8DequantizeLinear",
    "TRT_INT4QuantizeLinear",
    "TRT_INT4DequantizeLinear",
)

RULES = (
    [OpRule(op=op, source=SOURCE, since=TRT10) for op in LEGACY]
    + [
        OpRule(
            op="TRT_PluginV2",
            source=SOURCE,
            since=Since(
                trt=(10, 0),
                rtx=None,
                reason="TensorRT-RTX's parser has no TRT_PluginV2 importer (IPluginV2 is not "
                "supported there)",
            ),
            hint="re-export the plugin as a node named after the plugin (IPluginV3)",
        ),
        OpRule(
            op="TRT_QuantizedAttention",
            source=f"{SOURCE} (TensorRT release inferred from the parser copy with the Attention "
            "importer, 10.14)",
            since=Since(trt=(10, 14), rtx=(1, 7)),
        ),
    ]
    + [
        OpRule(
            op=op,
            source=f"TensorRT 11.0 release notes (parser); {OBSERVED}",
            since=Since(trt=(11, 0), rtx=(1, 7), reason="added to the parser in TensorRT 11.0"),
            hint="target TensorRT 11, or export the standard ONNX ops instead",
        )
        for op in ("TRT_Attention", "TRT_MoE", "TRT_KVCacheUpdate")
    ]
)
