"""ONNX Runtime contrib ops (`com.microsoft`) that TensorRT-RTX's parser imports natively.

Importers are chosen by op_type whatever the domain, so these rules sit in the built-in table
(domain ""). TensorRT-RTX 1.7's parser registers importers for MultiHeadAttention,
SimplifiedLayerNormalization, SkipSimplifiedLayerNormalization and QMoE (and for
GroupQueryAttention and MatMulNBits, whose importers need plugins: `contrib_llm`); the
open-source TensorRT parser has none of them, so on trt-10/trt-11 such nodes fall through to the
plugin lookup (and `trt-rewrite --decompose-contrib` where it handles them). Contrib ops with no
importer anywhere (FastGelu, BiasGelu, QuickGelu, FusedMatMul, SkipLayerNormalization, BiasAdd,
EmbedLayerNormalization, PackedAttention, GatherBlockQuantized, ...) need no rule: the engine
reports them as custom-domain ops with the rewrite passes that remove them.

Sources: observed with the TensorRT-RTX 1.7.1 parser ("TensorRT-RTX MultiHeadAttention requires
query, key, and value inputs", "TensorRT-RTX only supports MultiHeadAttention with a single
context output", QMoE's conditions in `_check_qmoe`; every other contrib name tried gives
"Plugin not found"); onnx-tensorrt onnxOpImporters.cpp (no such importers in the
open-source parser).
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._tensor_common import OBSERVED
from trtforge.analyzer.kb.rule import NodeContext, OpRule, Since

SOURCE = f"{OBSERVED}; onnx-tensorrt onnxOpImporters.cpp (absent in the open-source parser)"
RTX_ONLY = Since(
    trt=None,
    rtx=(1, 7),
    reason="only TensorRT-RTX's parser has an importer for this ONNX Runtime contrib op",
)
HINT = "decompose the contrib op into standard ONNX ops (trt-rewrite), or provide a plugin"


def _check_mha(ctx: NodeContext):
    present = [i for i in range(min(3, ctx.num_inputs)) if ctx.has_input(i)]
    if len(present) < 3:
        yield ctx.finding(
            "packed-qkv",
            "query, key and value must be separate inputs (packed QKV is not supported)",
            "split the packed QKV projection into three inputs when exporting",
        )
    outputs = sum(1 for name in ctx.node.output if name)
    if outputs > 1:
        yield ctx.finding(
            "extra-outputs",
            f"declares {outputs} outputs; TensorRT-RTX imports MultiHeadAttention with a single "
            "context output (present_key/present_value unsupported)",
            "update the KV cache outside the node (Concat) and drop the present outputs",
        )


def _check_qmoe(ctx: NodeContext):
    """The conditions TensorRT-RTX 1.7.1's QMoE importer asserts, in its order (observed:
    "activation_alpha must be specified", "block_size must be specified", "only swiglu
    activation is supported", "block_size must be 128", "normalize_routing_weights must be enabled",
    "input must have dimension 3"); the first that fails is the parser's error. With all of
    them met (FLOAT and FLOAT16, 4-bit experts, swiglu, a 3-D input) the node is still
    refused ("Invalid Node"): no QMoE has been seen to parse."""
    attrs = ctx.attrs
    block = attrs.get("block_size")
    activation = attrs.get("activation_type", "relu")
    activation = activation.decode() if isinstance(activation, bytes) else str(activation)
    data = ctx.input(0)
    if "activation_alpha" not in attrs:
        yield ctx.finding("attribute", "activation_alpha is not set; the importer requires it")
    elif block is None:
        yield ctx.finding(
            "attribute", "block_size is not set; the importer takes block-wise scales only"
        )
    elif activation != "swiglu":
        yield ctx.finding(
            "attribute-value", f"activation_type '{activation}'; the importer takes swiglu only"
        )
    elif block != 128:
        yield ctx.finding("attribute-value", f"block_size {block}; the importer takes 128 only")
    elif not attrs.get("normalize_routing_weights", 0):
        yield ctx.finding(
            "attribute-value",
            "normalize_routing_weights is 0; the importer requires normalized routing weights",
        )
    elif data is not None and data.rank is not None and data.rank != 3:
        yield ctx.finding(
            "rank", f"input 0 has rank {data.rank}; the importer takes [batch, sequence, hidden]"
        )
    else:
        yield ctx.finding(
            "not-available",
            'TensorRT-RTX 1.7.1 refuses this QMoE ("Invalid Node") although it meets every '
            "condition its importer checks; no QMoE has been seen to parse",
        )


RULES = [
    OpRule(op="MultiHeadAttention", source=SOURCE, since=RTX_ONLY, hint=HINT, check=_check_mha),
    OpRule(op="SimplifiedLayerNormalization", source=SOURCE, since=RTX_ONLY, hint=HINT),
    OpRule(op="SkipSimplifiedLayerNormalization", source=SOURCE, since=RTX_ONLY, hint=HINT),
    OpRule(op="QMoE", source=SOURCE, since=RTX_ONLY, hint=HINT, check=_check_qmoe),
]
