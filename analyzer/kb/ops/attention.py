"""Attention family: Attention, RotaryEmbedding, LinearAttention, CausalConvWithState.

Sources: onnx-tensorrt docs/operators.md (10.15 Attention row: past_key/past_value and the
present_*/qk_matmul_output outputs unsupported, softcap unsupported; RotaryEmbedding row);
onnxOpImporters.cpp importAttention (exactly one output, past_key/past_value refused, IAttention
layer), importRotaryEmbedding (3-D input needs num_heads); Changelog 10.14 (Attention), 10.15
(RotaryEmbedding, RMSNormalization). Observed with the TensorRT-RTX 1.7.1 parser on the onnx
Attention test cases and extra probes: `softcap` != 0 and `softmax_precision` are refused;
`is_causal=1` together with an `attn_mask` fails in IAttention::setMask; K and V with different
shapes (different head sizes) fail ("Key and Value must have the same shape", compared dim by
dim with -1 for a dynamic dim); GQA, 3-D inputs with q_num_heads/kv_num_heads, bool/float masks
of rank 2-4, nonpad_kv_seqlen and left_window_size parse; Q/K/V must be float types (INT8/FP8
inputs fail at the layer). LinearAttention and CausalConvWithState (opset 27) have importers in
TensorRT-RTX 1.7.1 that need a plugin it does not ship ("failed to load … plugin"); they are
absent from TensorRT's operators.md (10.15). RotaryEmbedding (held-out const+dynamic probes,
TensorRT-RTX 1.7.1): the head size must be static, and position_ids (or, without them, the
caches) must match the input's batch/sequence dims as build-time values.
"""

from __future__ import annotations

import math

from trtforge.analyzer.kb.ops._compute import (
    CHANGELOG,
    CHECKERS,
    IMPORTERS,
    OBSERVED,
    OPS_MD,
    is_dynamic_dim,
    mixed_float_types,
    src,
)
from trtforge.analyzer.kb.policy import FLOAT_LIKE, INDEX_INTS
from trtforge.analyzer.kb.rule import NodeContext, OpRule, Since


def _check_attention(ctx: NodeContext):
    outputs = ctx.num_outputs
    if outputs > 1:
        yield ctx.finding(
            "extra-outputs",
            f"declares {outputs} outputs; TensorRT's Attention produces only Y (present_key, "
            "present_value and qk_matmul_output are unsupported, even as empty names)",
            "remove the trailing outputs from the node (KV-cache attention needs a plugin)",
        )
    for index, name in ((4, "past_key"), (5, "past_value")):
        if ctx.has_input(index):
            yield ctx.finding(
                "past-kv",
                f"{name} input is set; TensorRT's Attention has no KV-cache inputs",
                "update the KV cache outside the node (Concat) and pass full K/V",
            )
    if ctx.attr_float("softcap", 0.0) != 0.0:
        yield ctx.finding(
            "softcap",
            f"softcap={ctx.attr('softcap')} is not supported",
            "apply softcapping outside the node, or decompose the attention",
        )
    if "softmax_precision" in ctx.attrs:
        yield ctx.finding(
            "softmax-precision",
            "softmax_precision is not supported",
            "drop the softmax_precision attribute",
        )
    if ctx.attr_int("is_causal", 0) and ctx.has_input(3):
        yield ctx.finding(
            "causal-with-mask",
            "is_causal=1 together with an attn_mask; TensorRT takes one or the other",
            "fold the causal mask into attn_mask and set is_causal=0",
        )
    if ctx.has_input(3):
        yield from _check_mask(ctx)
    yield from _check_kv_shapes(ctx)
    yield from _check_heads(ctx)


def _trt_dims(info, ctx: NodeContext | None = None) -> list[int | None]:
    """The dims as TensorRT's layer sees them: a static dim, -1 for a dynamic dim of a network
    input, or of a computed tensor where ONNX's inference traced it to one (it carries a
    network input's dim name, `NodeContext.is_input_dim`: TensorRT-RTX 1.7.1 sees the batch
    of a Reshape/Transpose of the inputs as -1), None where this analysis cannot tell
    (another dynamic dim of a computed tensor, which TensorRT may know)."""
    out: list[int | None] = []
    for d in info.shape:
        if isinstance(d, int) and d > 0:
            out.append(d)
        elif info.is_graph_input or (ctx is not None and ctx.is_input_dim(d)):
            out.append(-1)
        else:
            out.append(None)
    return out


def _check_heads(ctx: NodeContext):
    """IAttention's input layer: the query head count must be divisible by the key/value head
    count, as build-time values (a dynamic count is -1, C++ remainder): a dynamic query head
    count against 2 or 4 key/value heads fails, against 1 or a dynamic count parses; 4 query
    heads against 3 fail (observed with TensorRT-RTX 1.7.1, held-out probes)."""
    q, k = ctx.input(0), ctx.input(1)
    if q is None or k is None or q.shape is None or k.shape is None:
        return
    if len(q.shape) != 4 or len(k.shape) != 4:
        return  # 3-D inputs take the head counts from the attributes
    qh, kh = _trt_dims(q)[1], _trt_dims(k)[1]
    if qh is None or kh is None or kh == 0:
        return
    if int(math.fmod(qh, kh)) != 0:
        yield ctx.finding(
            "heads-divisible",
            f"query heads ({q.shape[1]}) are not a multiple of key/value heads ({k.shape[1]}) "
            "as TensorRT sees them at build time (a dynamic count is -1)",
            "give Q a static head dim (heads are usually fixed in the model)",
        )


def _check_kv_shapes(ctx: NodeContext):
    """IAttention's input layer compares the K and V dims as build-time values, a dynamic
    dim being -1 (observed with TensorRT-RTX 1.7.1: K and V that differ in a static dim are
    refused whatever the other dims are; two dynamic dims compare equal, a dynamic dim
    against a static one does not)."""
    k, v = ctx.input(1), ctx.input(2)
    if k is None or v is None or k.shape is None or v.shape is None:
        return
    if len(k.shape) != len(v.shape):
        return
    for kd, vd in zip(_trt_dims(k), _trt_dims(v), strict=True):
        if kd is not None and vd is not None and kd != vd:
            yield ctx.finding(
                "kv-shape",
                f"K {list(k.shape)} and V {list(v.shape)} differ; TensorRT needs equal shapes "
                "(same head size)",
                "pad V to K's head size and slice the output, or decompose the attention",
            )
            return


def _attention_dims(ctx: NodeContext) -> list | None:
    """[batch, q_heads, q_seq, kv_seq] as far as known (None entries unknown)."""
    q, k = ctx.input(0), ctx.input(1)
    if q is None or k is None or q.shape is None or k.shape is None:
        return None

    def known(d):
        return d if isinstance(d, int) and d > 0 else None

    if len(q.shape) == 4 and len(k.shape) == 4:
        return [known(q.shape[0]), known(q.shape[1]), known(q.shape[2]), known(k.shape[2])]
    if len(q.shape) == 3 and len(k.shape) == 3:
        heads = ctx.attr("q_num_heads")
        return [
            known(q.shape[0]),
            int(heads) if heads else None,
            known(q.shape[1]),
            known(k.shape[1]),
        ]
    return None


def _check_mask(ctx: NodeContext):
    """The mask must broadcast to [batch, q_heads, q_seq, kv_seq] (observed: "mask must be
    broadcastable to …" from the attention input layer, e.g. onnx test
    test_attention_4d_padded_kv_bf16)."""
    mask = ctx.input(3)
    dims = _attention_dims(ctx)
    if mask is None or mask.shape is None or dims is None or len(mask.shape) > 4:
        return
    for have, want in zip(reversed(mask.shape), reversed(dims), strict=False):
        if isinstance(have, int) and have > 1 and want is not None and have != want:
            yield ctx.finding(
                "mask-shape",
                f"attn_mask {list(mask.shape)} does not broadcast to [batch, heads, q_len, "
                f"kv_len] = {dims}",
                "pad or slice the mask to the key/value sequence length",
            )
            return


def _check_rope(ctx: NodeContext):
    yield from mixed_float_types(ctx, (0, 1, 2))
    x = ctx.input(0)
    if x is not None and x.rank == 3 and "num_heads" not in ctx.attrs:
        yield ctx.finding(
            "num-heads",
            "3-D input without the num_heads attribute",
            "set num_heads, or reshape the input to 4-D",
        )
    yield from _check_rope_dims(ctx)


def _check_rope_dims(ctx: NodeContext):
    """IRotaryEmbeddingLayer checks at build time (observed with TensorRT-RTX 1.7.1): the head
    size (hidden size of a 3-D input) must be static ("rotaryEmbeddingDim <= headSize" with
    headSize -1, "hiddenSize must be divisible by num_heads"); position_ids [batch, seq] must
    have the input's batch and sequence dims, and so must the caches [batch, seq, …] without
    position_ids, compared as build-time values (-1 for a dynamic dim): a dynamic batch
    against a constant position_ids of batch 1 or 2 fails."""
    x = ctx.input(0)
    if x is None or x.shape is None or x.rank not in (3, 4):
        return
    if is_dynamic_dim(x, x.shape[-1]):
        what = "hidden size" if x.rank == 3 else "head size"
        yield ctx.finding(
            "dynamic-head-size",
            f"the input's {what} (last dim) is dynamic {list(x.shape)}; TensorRT needs it at "
            "build time",
            "export with a static head size (fixed hidden size / num_heads)",
        )
    xdims = _trt_dims(x, ctx)
    batch, seq = xdims[0], xdims[2] if x.rank == 4 else xdims[1]
    if ctx.has_input(3):
        pos = ctx.input(3)
        if pos is None or pos.shape is None or pos.rank != 2:
            return
        pdims = _trt_dims(pos, ctx)
        pairs = (("batch", batch, pdims[0]), ("sequence", seq, pdims[1]))
        which, what = "position_ids", pos.shape
    else:
        cos = ctx.input(1)
        if cos is None or cos.shape is None or cos.rank != 3:
            return
        cdims = _trt_dims(cos, ctx)
        pairs = (("batch", batch, cdims[0]), ("sequence", seq, cdims[1]))
        which, what = "cos_cache", cos.shape
    for name, want, have in pairs:
        if want is not None and have is not None and want != have:
            yield ctx.finding(
                "rope-dims",
                f"{which} {list(what)} and the input {list(x.shape)} differ in the {name} dim "
                "as TensorRT sees it at build time (a dynamic dim is -1)",
                f"give {which} the input's {name} dim (e.g. compute it from the input's "
                "shape, or make both static)",
            )
            return


RULES = [
    OpRule(
        op="Attention",
        source=src(
            f"{OPS_MD} (Attention row)",
            f"{IMPORTERS} importAttention",
            f"{CHECKERS} checkAttention (softcap, softmax_precision)",
            CHANGELOG + " 10.14",
            OBSERVED,
        ),
        since=Since(
            trt=(10, 14),
            rtx=(1, 7),
            reason="Attention is imported from TensorRT 10.14 (TensorRT-RTX: verified in 1.7)",
        ),
        types={
            0: FLOAT_LIKE,
            1: FLOAT_LIKE,
            2: FLOAT_LIKE,
            3: FLOAT_LIKE | {"BOOL"},
            6: INDEX_INTS,
        },
        hint="decompose Attention into MatMul/Softmax/MatMul (the exporter's default before "
        "opset 23)",
        check=_check_attention,
    ),
    OpRule(
        op="RotaryEmbedding",
        empty_inputs_refused=frozenset({3}),  # observed, TensorRT-RTX 1.7.1
        source=src(
            f"{OPS_MD} (RotaryEmbedding row)",
            f"{IMPORTERS} importRotaryEmbedding",
            CHANGELOG + " 10.15",
            OBSERVED,
        ),
        since=Since(
            trt=(10, 15),
            rtx=(1, 7),
            reason="RotaryEmbedding is imported from TensorRT "
            "10.15 (TensorRT-RTX: verified in 1.7)",
        ),
        types={0: FLOAT_LIKE, 1: FLOAT_LIKE, 2: FLOAT_LIKE, 3: INDEX_INTS},
        hint="decompose the rotary embedding (Slice, Mul, Neg, Concat, Add)",
        check=_check_rope,
    ),
    *(
        OpRule(
            op=op,
            source=src(
                f"absent from {OPS_MD}",
                f'TensorRT-RTX 1.7.1 importer needs the {op} plugin ("failed to load … plugin")',
                OBSERVED,
            ),
            since=Since(
                trt=None,
                rtx=None,
                reason=f"{op} needs a TensorRT plugin that no "
                "release in the knowledge base is known to ship",
            ),
            hint=f"decompose {op} into standard ops, or implement it as a plugin",
        )
        for op in ("LinearAttention", "CausalConvWithState")
    ),
]
