"""decompose-gqa: onnxruntime's GroupQueryAttention and RotaryEmbedding → standard ONNX ops.

onnxruntime-genai's model builder writes every decoder layer's attention as one com.microsoft
`GroupQueryAttention` node (and, in some exports, a separate `RotaryEmbedding`). TensorRT's
importer for it only looks for a plugin that the PyPI builds do not register, so the node must
become standard ops before TensorRT takes the model.

Before → After::

    GroupQueryAttention(query[, key, value], past_key, past_value, seqlens_k,
                        total_sequence_length[, cos_cache, sin_cache, …, head_sink])
        → [Split packed QKV] → Reshape to heads → [rotary: Gather cos/sin rows at the token
          positions, Mul/Sub/Add] → KV cache: Concat(past, new) + GatherElements placing each
          sequence's new rows right after its own past → Q·Kᵀ per KV-head group (MatMul with
          broadcast, no K/V copies) → Mul(scale) → [softcap: Tanh] → causal / padding /
          local-window mask (Where) → Softmax [smooth softmax / head sink: an extra logit] →
          ·V → Reshape back to (batch, sequence, hidden)
    q_norm_weight/k_norm_weight (onnxruntime-genai's CUDA exports of Qwen3-style models fuse
    the per-head Q/K RMSNorm into the node; onnxruntime has a CUDA kernel only)
        → RMSNorm over each head of Q and K (qk_norm_epsilon, in float32) before the rotary
    RotaryEmbedding(x, position_ids, cos_cache, sin_cache)
        → Gather cos/sin rows, rotate halves (or interleaved pairs), Concat the unrotated tail

Semantics reproduced (onnxruntime's CPU kernel, non-shared KV buffers): for batch entry b the
cache holds T_b = seqlens_k[b] + 1 tokens after the step and held P_b = max(T_b - S, 0) before
it (S: the query length); query row s sits at absolute position P_b + s, which is also its
rotary position; it attends to keys at positions ≤ its own (causal), and when
`local_window_size` = W > 0 only to the last W of them (its own included). present_key and
present_value have max(total_sequence_length, past length) rows; rows at or beyond T_b, and
output rows of padding queries (s ≥ T_b in a prompt), are unspecified in onnxruntime and hold
finite values here. With causal=0 a query sees every key below T_b.
Grouped heads: query head n reads KV head n // (num_heads / kv_num_heads).

`--gqa-impl`: `decomposed` (MatMul/Softmax), `onnx-attention` (the opset-23 `Attention` op for
the Q·K/softmax/·V core, after the same rotary and KV-cache ops; a model below opset 23 is
converted first; smooth softmax and head sinks stay decomposed), or `auto` (the default):
onnx-attention only where the probe below says the target builds it — an rtx target, a float16
model at opset ≥ 23, a head size in `ATTENTION_PROBE["float16_head_sizes"]` — else decomposed.
Probe (TensorRT-RTX 1.7.1 from PyPI, AOT build for SM89 on a CPU-only machine, 2026-12-03; a
4-D Q/K/V Attention node with a boolean mask, 4 query heads, 4 or 2 KV heads): the parser imports
it in every case; the build succeeds in float16 with head size 64 or 128, and fails in float32
(any head size tried) and in float16 with head size 8 ("Attention operation was not supported by
a dedicated kernel"). TensorRT 10/11 were not probed, so auto keeps them decomposed.

A bfloat16 node (onnxruntime-genai's bf16 CUDA exports) is computed in float32 between Casts.

Skips (reported): a query that is not float32/float16/bfloat16; the inputs position_ids,
attention_bias, k_scale/v_scale (quantized cache), query_seqlens, only one of
q_norm_weight/k_norm_weight;
sliding_window_cache, or a windowed layer whose past_key graph input is of another length than
another KV-cache input (a window-sized ring buffer: `window_sized_cache`); qk_output,
kv_cache_bit_width, causal=0 with local_window_size; a quantized
KV cache type; missing seqlens_k/total_sequence_length; an unknown head size (the hidden size of
query/past_key not static); rotary with a cos_cache whose width is not static; opset below 13;
the output_qk output in use. RotaryEmbedding: a target whose parser imports it (the knowledge
base says TensorRT-RTX does), is_packed_batching, an input of unknown rank, an unknown head size
for a 3-D input.
"""

from __future__ import annotations

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite import emit
from trtforge.analyzer.rewrite.base import Match, PassContext, PassOption, RewritePass, detach
from trtforge.analyzer.rewrite.graphutil import anchor, attr_text, graph_output_names, tensor_rank

np = lazy_import("numpy")
gs = lazy_import("onnx_graphsurgeon")
onnx = lazy_import("onnx")

MS = "com.microsoft"
GQA_IMPLS = ("auto", "decomposed", "onnx-attention")
OPSET_ATTENTION = 23

#: what TensorRT-RTX 1.7.1 does with opset-23 Attention (probed 2026-12-03, see the docstring)
ATTENTION_PROBE = {
    "parses": True,
    "float32_builds": False,
    "float16_head_sizes": (64, 128),  # the float16 head sizes whose AOT build succeeded
}

# GroupQueryAttention input indices (onnxruntime contrib schema)
Q, K, V, PAST_K, PAST_V, SEQLENS, TOTAL, COS, SIN = range(9)
Q_NORM, K_NORM = 14, 15  # q_norm_weight / k_norm_weight [head_size]: per-head RMSNorm
UNSUPPORTED_INPUTS = {
    9: "position_ids",
    10: "attention_bias",
    12: "k_scale",
    13: "v_scale",
    16: "query_seqlens",
}
HEAD_SINK = 11


def _input(node: gs.Node, index: int) -> gs.Tensor | None:
    if index < len(node.inputs) and node.inputs[index] is not None and node.inputs[index].name:
        return node.inputs[index]
    return None


def _used(node: gs.Node, index: int, graph: gs.Graph) -> bool:
    if index >= len(node.outputs):
        return False
    out = node.outputs[index]
    return bool(out.name) and (bool(out.outputs) or out.name in graph_output_names(graph))


def _static_last(t: gs.Tensor | None) -> int | None:
    if t is None or t.shape is None or not t.shape:
        return None
    last = t.shape[-1]
    return last if isinstance(last, int) and last > 0 else None


def _head_size(node: gs.Node) -> int | None:
    """The head size, from query's hidden size (or past_key's last dim)."""
    heads, kv_heads = int(node.attrs.get("num_heads", 0)), int(node.attrs.get("kv_num_heads", 0))
    hidden = _static_last(node.inputs[Q])
    if hidden is not None:
        packed = _input(node, K) is None
        parts = heads + 2 * kv_heads if packed else heads
        if parts > 0 and hidden % parts == 0:
            return hidden // parts
        return None
    return _static_last(_input(node, PAST_K))


# -- small builders -----------------------------------------------------------------------
class _B:
    """Terse node builders over one PassContext (the decomposition is long)."""

    def __init__(self, ctx: PassContext):
        self.ctx = ctx

    def i64(self, value, base="c") -> gs.Constant:
        return self.ctx.constant(base, np.array(value, np.int64))

    def op(self, op: str, inputs, dtype=None, attrs=None, out=None, base=None) -> gs.Tensor:
        if out is None:
            out = self.ctx.variable(base or op.lower(), dtype=dtype)
        self.ctx.node(op, list(inputs), [out], attrs)
        return out

    def reshape(self, x, shape, out=None):
        return self.op("Reshape", [x, self.i64(shape, "shape")], x.dtype, out=out)

    def transpose(self, x, perm, out=None):
        return self.op("Transpose", [x], x.dtype, {"perm": list(perm)}, out=out)

    def unsqueeze(self, x, axes):
        return self.op("Unsqueeze", [x, self.i64(axes, "axes")], x.dtype)

    def slice(self, x, start, end, axis):
        inputs = [x, self.i64([start], "starts"), self.i64([end], "ends"), self.i64([axis], "axes")]
        return self.op("Slice", inputs, x.dtype)

    def cast(self, x, to):
        return emit.cast(self.ctx, x, to)

    def dim(self, x, axis):
        """Dimension `axis` of `x` as an INT64 scalar."""
        shape = self.op("Shape", [x], np.int64)
        return self.op("Gather", [shape, self.i64(axis, "axis")], np.int64)

    def scalar(self, value, dtype):
        return emit.scalar_const(self.ctx, value, dtype)


# -- rotary ---------------------------------------------------------------------------------
def _rotate(b: _B, x, cos, sin, rotary_dim: int, head_size: int, interleaved: bool, out=None):
    """Rotary embedding of `x` (…, head_size) with cos/sin (…, rotary_dim/2) broadcastable to
    x's leading dims; dims past rotary_dim pass through unchanged."""
    half = rotary_dim // 2
    rot = x if rotary_dim == head_size else b.slice(x, 0, rotary_dim, -1)
    if interleaved:
        pairs = b.op("Reshape", [rot, _pairs_shape(b, rot, half)], x.dtype)
        x1 = b.op("Squeeze", [b.slice(pairs, 0, 1, -1), b.i64([-1])], x.dtype)
        x2 = b.op("Squeeze", [b.slice(pairs, 1, 2, -1), b.i64([-1])], x.dtype)
    else:
        x1, x2 = b.slice(rot, 0, half, -1), b.slice(rot, half, rotary_dim, -1)
    o1 = b.op("Sub", [b.op("Mul", [x1, cos], x.dtype), b.op("Mul", [x2, sin], x.dtype)], x.dtype)
    o2 = b.op("Add", [b.op("Mul", [x2, cos], x.dtype), b.op("Mul", [x1, sin], x.dtype)], x.dtype)
    last = out if rotary_dim == head_size else None
    if interleaved:
        stacked = b.op(
            "Concat", [b.unsqueeze(o1, [-1]), b.unsqueeze(o2, [-1])], x.dtype, {"axis": -1}
        )
        rotated = b.op("Reshape", [stacked, b.op("Shape", [rot], np.int64)], x.dtype, out=last)
    else:
        rotated = b.op("Concat", [o1, o2], x.dtype, {"axis": -1}, out=last)
    if rotary_dim == head_size:
        return rotated
    tail = b.slice(x, rotary_dim, head_size, -1)
    return b.op("Concat", [rotated, tail], x.dtype, {"axis": -1}, out=out)


def _pairs_shape(b: _B, x, half: int):
    """Shape of x with its last dim split into (half, 2)."""
    lead = b.op(
        "Slice",
        [b.op("Shape", [x], np.int64), b.i64([0], "starts"), b.i64([-1], "ends")],
        np.int64,
    )
    return b.op("Concat", [lead, b.i64([half, 2])], np.int64, {"axis": 0})


def _cos_sin(b: _B, cos_cache, sin_cache, positions):
    """cos/sin rows at `positions` (INT64, any shape) → positions.shape + (rotary_dim/2,)."""
    cos = b.op("Gather", [cos_cache, positions], cos_cache.dtype, {"axis": 0})
    sin = b.op("Gather", [sin_cache, positions], sin_cache.dtype, {"axis": 0})
    return cos, sin


# -- GroupQueryAttention -------------------------------------------------------------------
def _gqa(node: gs.Node, outs, ctx: PassContext, use_attention_op: bool) -> None:
    b = _B(ctx)
    heads = int(node.attrs["num_heads"])
    kv_heads = int(node.attrs["kv_num_heads"])
    group = heads // kv_heads
    head = _head_size(node)
    dtype = emit.np_float(node.inputs[Q])
    query = node.inputs[Q]
    if _input(node, K) is None:  # packed QKV
        sizes = [heads * head, kv_heads * head, kv_heads * head]
        q, k, v = (ctx.variable(n, dtype=dtype) for n in ("q", "k", "v"))
        ctx.node("Split", [query, b.i64(sizes, "qkv_sizes")], [q, k, v], {"axis": -1})
    else:
        q, k, v = query, node.inputs[K], node.inputs[V]

    # lengths: S, T_b = seqlens_k + 1, P_b = max(T_b - S, 0), query positions P_b + s
    seq = b.dim(q, 1)
    total_b = b.op("Add", [b.cast(node.inputs[SEQLENS], np.int64), b.i64(1)], np.int64)
    past_b = b.op("Max", [b.op("Sub", [total_b, seq], np.int64), b.i64(0)], np.int64)  # (B,)
    steps = b.op("Range", [b.i64(0), seq, b.i64(1)], np.int64)  # (S,)
    q_pos = b.op("Add", [b.unsqueeze(past_b, [1]), steps], np.int64)  # (B, S)

    q4 = b.reshape(q, [0, 0, heads, head])  # (B, S, N, H)
    k4 = b.reshape(k, [0, 0, kv_heads, head])
    if _input(node, Q_NORM) is not None:  # per-head RMSNorm of Q and K, before the rotary
        eps = float(node.attrs.get("qk_norm_epsilon", 1e-6))
        for name, index in (("q", Q_NORM), ("k", K_NORM)):
            normed = ctx.variable(f"{name}_norm", dtype=dtype)
            x4 = q4 if name == "q" else k4
            emit.decomposed_norm(ctx, x4, node.inputs[index], None, -1, eps, normed, rms=True)
            q4, k4 = (normed, k4) if name == "q" else (q4, normed)
    if int(node.attrs.get("do_rotary", 0)):
        cos_cache, sin_cache = node.inputs[COS], node.inputs[SIN]
        rotary_dim = 2 * _static_last(cos_cache)
        interleaved = bool(int(node.attrs.get("rotary_interleaved", 0)))
        cos, sin = _cos_sin(b, cos_cache, sin_cache, q_pos)  # (B, S, R/2)
        cos, sin = b.unsqueeze(cos, [2]), b.unsqueeze(sin, [2])  # (B, S, 1, R/2)
        q4 = _rotate(b, q4, cos, sin, rotary_dim, head, interleaved)
        k4 = _rotate(b, k4, cos, sin, rotary_dim, head, interleaved)
    k_new = b.transpose(k4, [0, 2, 1, 3])  # (B, kvN, S, H)
    v_new = b.transpose(b.reshape(v, [0, 0, kv_heads, head]), [0, 2, 1, 3])

    present_k, present_v = _kv_cache(b, node, outs, k_new, v_new, seq, past_b)
    keys = b.op("Range", [b.i64(0), b.dim(present_k, 2), b.i64(1)], np.int64)  # (T,)
    allowed = _allowed(b, node, q_pos, total_b, keys)  # (B, 1, S, T) bool

    scale = float(node.attrs.get("scale", 0.0)) or 1.0 / float(np.sqrt(head))
    if use_attention_op:
        q_bnsh = b.transpose(q4, [0, 2, 1, 3])  # (B, N, S, H)
        attrs = {"scale": scale}
        if float(node.attrs.get("softcap", 0.0)) > 0:
            attrs["softcap"] = float(node.attrs["softcap"])
        context = b.op("Attention", [q_bnsh, present_k, present_v, allowed], dtype, attrs)
        joined = b.transpose(context, [0, 2, 1, 3])  # (B, S, N, H)
        b.reshape(joined, [0, 0, heads * head], out=outs[0])
        return

    # (B, kvN, G, S, H) queries against (B, kvN, 1, H, T) keys: broadcasting shares each KV
    # head across its group without copying it
    q5 = b.transpose(b.reshape(q4, [0, 0, kv_heads, group, head]), [0, 2, 3, 1, 4])
    k5t = b.unsqueeze(b.transpose(present_k, [0, 1, 3, 2]), [2])
    v5 = b.unsqueeze(present_v, [2])
    compute = np.float32  # scores and softmax in float32, as onnxruntime's kernel does
    scores = b.op("MatMul", [q5, k5t], dtype)
    if dtype != compute:
        scores = b.cast(scores, compute)
    scores = b.op("Mul", [scores, b.scalar(scale, compute)], compute)
    softcap = float(node.attrs.get("softcap", 0.0))
    if softcap > 0:
        capped = b.op("Tanh", [b.op("Div", [scores, b.scalar(softcap, compute)], compute)], compute)
        scores = b.op("Mul", [capped, b.scalar(softcap, compute)], compute)
    allowed5 = b.unsqueeze(allowed, [2])  # (B, 1, 1, S, T)
    lowest = b.scalar(float(np.finfo(np.float32).min), compute)
    masked = b.op("Where", [allowed5, scores, lowest], compute)
    sink = _sink_logits(b, node, kv_heads, group, scores, compute)
    if sink is None:
        probs = b.op("Softmax", [masked], compute, {"axis": -1})
    else:  # an extra logit in the denominator only
        extended = b.op("Concat", [masked, sink], compute, {"axis": -1})
        softmax = b.op("Softmax", [extended], compute, {"axis": -1})
        columns = b.unsqueeze(b.dim(masked, 4), [0])
        probs = b.op("Slice", [softmax, b.i64([0]), columns, b.i64([-1])], compute)
    if dtype != compute:
        probs = b.cast(probs, dtype)
    context = b.op("MatMul", [probs, v5], dtype)  # (B, kvN, G, S, H)
    joined = b.transpose(context, [0, 3, 1, 2, 4])  # (B, S, kvN, G, H)
    b.reshape(joined, [0, 0, heads * head], out=outs[0])


def _kv_cache(b: _B, node, outs, k_new, v_new, seq, past_b):
    """present = each sequence's past rows, then its S new rows; max(total, past) rows."""
    past_k, past_v = _input(node, PAST_K), _input(node, PAST_V)
    out_k = outs[1] if len(outs) > 1 else None
    out_v = outs[2] if len(outs) > 2 else None
    if past_k is None:
        return (
            b.op("Identity", [k_new], k_new.dtype, out=out_k),
            b.op("Identity", [v_new], v_new.dtype, out=out_v),
        )
    past_len = b.dim(past_k, 2)
    total = b.cast(b.reshape(node.inputs[TOTAL], []), np.int64)
    rows = b.op("Max", [total, past_len], np.int64)
    t = b.op("Range", [b.i64(0), rows, b.i64(1)], np.int64)  # (T,)
    past_col = b.unsqueeze(past_b, [1])  # (B, 1)
    in_past = b.op("Less", [t, past_col], np.bool_)  # (B, T)
    from_new = b.op("Add", [b.op("Sub", [t, past_col], np.int64), past_len], np.int64)
    last = b.op("Sub", [b.op("Add", [past_len, seq], np.int64), b.i64(1)], np.int64)
    from_new = b.op("Min", [from_new, last], np.int64)  # rows ≥ T_b are unspecified
    index = b.op("Where", [in_past, t, from_new], np.int64)  # (B, T) into Concat(past, new)
    index4 = b.unsqueeze(index, [1, 3])  # (B, 1, T, 1)
    results = []
    for past, new, out in ((past_k, k_new, out_k), (past_v, v_new, out_v)):
        both = b.op("Concat", [past, new], new.dtype, {"axis": 2})
        lead = b.op("Shape", [both], np.int64)
        shape = b.op(
            "Concat",
            [
                b.op("Slice", [lead, b.i64([0]), b.i64([2])], np.int64),
                b.unsqueeze(rows, [0]),
                b.op("Slice", [lead, b.i64([3]), b.i64([4])], np.int64),
            ],
            np.int64,
            {"axis": 0},
        )
        expanded = b.op("Expand", [index4, shape], np.int64)
        results.append(b.op("GatherElements", [both, expanded], new.dtype, {"axis": 2}, out=out))
    return results


def _allowed(b: _B, node, q_pos, total_b, keys):
    """(B, 1, S, T) bool: key t is visible to query row s of batch entry b."""
    key_row = b.reshape(keys, [1, 1, -1])  # (1, 1, T)
    q_col = b.unsqueeze(q_pos, [2])  # (B, S, 1)
    valid = b.op("Less", [key_row, b.reshape(total_b, [-1, 1, 1])], np.bool_)  # (B, 1, T)
    if int(node.attrs.get("causal", 1)):
        causal = b.op("Not", [b.op("Greater", [key_row, q_col], np.bool_)], np.bool_)
        visible = b.op("And", [valid, causal], np.bool_)
        window = int(node.attrs.get("local_window_size", -1))
        if window > 0:
            start = b.op("Sub", [q_col, b.i64(window - 1)], np.int64)
            inside = b.op("Not", [b.op("Less", [key_row, start], np.bool_)], np.bool_)
            visible = b.op("And", [visible, inside], np.bool_)
    else:
        visible = valid
    return b.unsqueeze(visible, [1])


def _sink_logits(b: _B, node, kv_heads, group, scores, compute):
    """The extra softmax logit (B, kvN, G, S, 1): head_sink per head, or 0 (smooth softmax)."""
    head_sink = _input(node, HEAD_SINK)
    if head_sink is None and not int(node.attrs.get("smooth_softmax", 0)):
        return None
    zero_col = b.op("Mul", [b.slice(scores, 0, 1, -1), b.scalar(0.0, compute)], compute)
    if head_sink is None:
        return zero_col
    sink = head_sink if head_sink.dtype == compute else b.cast(head_sink, compute)
    per_head = b.reshape(sink, [1, kv_heads, group, 1, 1])
    return b.op("Add", [zero_col, per_head], compute)


def gqa_node_skip(attrs: dict, present: set[int]) -> str | None:
    """Why a GroupQueryAttention with these attributes, and inputs at the `present`
    positions, is not decomposed, read off the node alone (`DecomposeGQA.leaves`, and the
    pass's own check)."""
    heads, kv_heads = int(attrs.get("num_heads", 0)), int(attrs.get("kv_num_heads", 0))
    if heads <= 0 or kv_heads <= 0 or heads % kv_heads:
        return f"num_heads={heads} is not a multiple of kv_num_heads={kv_heads}"
    if SEQLENS not in present or TOTAL not in present:
        return "seqlens_k or total_sequence_length is missing (both are required)"
    for index, name in UNSUPPORTED_INPUTS.items():
        if index in present:
            return f"input {index} ({name}) is given (not decomposed)"
    if int(attrs.get("sliding_window_cache", 0)):
        return (
            "sliding_window_cache=1: a window-sized ring-buffer KV cache is not decomposed "
            "(onnxruntime-genai writes it for sliding-window layers, e.g. Gemma-2 and "
            "gpt-oss; re-export with --extra_options windowed_kv_cache=false)"
        )
    for attr, default in (("qk_output", 0), ("kv_cache_bit_width", 0)):
        if int(attrs.get(attr, default)) != default:
            return f"{attr}={attrs[attr]} (not decomposed)"
    for attr in ("k_quant_type", "v_quant_type"):
        value = attr_text(attrs.get(attr, "NONE"))
        if value.upper() != "NONE":
            return f"{attr}={value} (a quantized KV cache is not decomposed)"
    if not int(attrs.get("causal", 1)) and int(attrs.get("local_window_size", -1)) > 0:
        return "causal=0 with local_window_size (invalid for onnxruntime)"
    if (K in present) != (V in present):
        return "only one of key/value is given"
    if (PAST_K in present) != (PAST_V in present):
        return "only one of past_key/past_value is given"
    if (Q_NORM in present) != (K_NORM in present):
        return "only one of q_norm_weight/k_norm_weight is given"
    return None


def window_sized_cache(window: int, past, inputs) -> str | None:
    """Why a GroupQueryAttention with a local window of `window` keys (`local_window_size`)
    whose past_key is the graph input of dims `past` is taken to hold a window-sized cache,
    or None: another graph input shaped as a KV cache (rank 4, the same batch dim and head
    size) has another length (dim 2). `inputs`: the dims of the graph's other inputs (each
    a sequence of ints, dim names and None, or None where the rank is unknown).

    The op's semantics (onnxruntime's CPU kernel) want every past token in the cache, so
    the caches of one decoding step hold the same past. An export that gives its windowed
    layers caches of their own length (onnxruntime-genai's NvTensorRtRtx gpt-oss:
    `past_sliding_length` beside the full layers' `past_sequence_length`, and no
    `sliding_window_cache` attribute) means a ring buffer the decomposition does not
    reproduce: decomposed as a full cache, it reads past the buffer's end once the window
    has filled. The graph inputs are what is compared because they stay as they are while
    the other layers are decomposed (a later round, or `--auto`'s next check, must come to
    the same answer)."""
    if window <= 0 or past is None or len(past) != 4 or past[2] in (None, ""):
        return None
    for dims in inputs:
        if dims is None or len(dims) != 4 or dims[2] in (None, ""):
            continue
        if dims[0] == past[0] and dims[3] == past[3] and dims[2] != past[2]:
            return (
                f"local_window_size={window} and a past_key of length '{past[2]}' where "
                f"another KV-cache input has '{dims[2]}': a window-sized (ring-buffer) KV "
                "cache is not decomposed (re-export with a full-length cache for every layer, "
                "e.g. onnxruntime-genai's --extra_options windowed_kv_cache=false with the "
                "cuda or cpu provider)"
            )
    return None


def _window_cache_skip(node: gs.Node, graph: gs.Graph) -> str | None:
    """`window_sized_cache` of a node of the pass's graph."""
    window = int(node.attrs.get("local_window_size", -1))
    past = _input(node, PAST_K)
    if window <= 0 or past is None or not any(past is t for t in graph.inputs):
        return None
    shape = None if past.shape is None else list(past.shape)
    others = [None if t.shape is None else list(t.shape) for t in graph.inputs if t is not past]
    return window_sized_cache(window, shape, others)


def _viewed_window_cache_skip(node, window: int, graph) -> str | None:
    """`window_sized_cache` of a NodeProto of an analyzer `GraphView` (trt-check's side)."""
    if window <= 0 or len(node.input) <= PAST_K or not node.input[PAST_K]:
        return None
    names = [vi.name for vi in graph.graph.input]
    past = node.input[PAST_K]
    if past not in names:
        return None
    others = [graph.tensor(name).shape for name in names if name != past]
    return window_sized_cache(window, graph.tensor(past).shape, others)


def _gqa_skip(node: gs.Node, ctx: PassContext, impl: str) -> str | None:
    present = {i for i in range(len(node.inputs)) if _input(node, i) is not None}
    why = gqa_node_skip(node.attrs, present)
    if why is not None:
        return why
    why = _window_cache_skip(node, ctx.graph)
    if why is not None:
        return why
    if tensor_rank(node.inputs[Q]) not in (None, 3):
        return f"query '{node.inputs[Q].name}' is not (batch, sequence, hidden)"
    if _used(node, 3, ctx.graph):
        return "output 3 (output_qk) is used; the decomposition does not produce it"
    if _head_size(node) is None:
        return "the head size is unknown (query's hidden size is not static)"
    if not emit.is_float(node.inputs[Q]):
        return f"query '{node.inputs[Q].name}' is not known to be a float tensor"
    if _float_kind(node.inputs[Q]) is None and not _is_bf16(node.inputs[Q]):
        return (
            f"query '{node.inputs[Q].name}' is neither float32, float16 nor bfloat16 "
            "(not decomposed)"
        )
    if int(node.attrs.get("do_rotary", 0)):
        width = _static_last(_input(node, COS))
        if _input(node, SIN) is None or width is None:
            return "do_rotary is set but cos_cache/sin_cache are missing or of unknown width"
        if 2 * width > _head_size(node):
            return f"the rotary width {2 * width} exceeds the head size {_head_size(node)}"
    if ctx.opset < 13:
        return f"the decomposition needs opset 13 (the model has {ctx.opset})"
    if impl == "onnx-attention":
        if ctx.opset < OPSET_ATTENTION:
            return (
                f"--gqa-impl onnx-attention needs opset {OPSET_ATTENTION} (the model has "
                f"{ctx.opset}); use --gqa-impl decomposed"
            )
    return None


def _is_bf16(t: gs.Tensor | None) -> bool:
    if t is None or not t.name:
        return False
    try:
        return str(emit.np_float(t)) == "bfloat16"
    except (TypeError, ValueError):
        return False


def _in_float32(node: gs.Node, outs, ctx: PassContext):
    """A bfloat16 node computed in float32: its bfloat16 inputs are cast to float32 and its
    outputs are float32 tensors cast back into the node's outputs (returns the new outputs).
    onnxruntime-genai's bf16 CUDA exports; the float16 decomposition's float32 softmax is the
    same idea for the rest of the graph."""
    for index, tensor in enumerate(node.inputs):
        if _is_bf16(tensor):
            shape = list(tensor.shape) if tensor.shape is not None else None
            wide = ctx.variable(f"{tensor.name}_f32", dtype=np.float32, shape=shape)
            ctx.node("Cast", [tensor], [wide], {"to": onnx.TensorProto.FLOAT})
            node.inputs[index] = wide
    wide_outs = []
    for out in outs:
        if out is None:
            wide_outs.append(None)
            continue
        shape = list(out.shape) if out.shape is not None else None
        wide = ctx.variable(f"{out.name}_f32", dtype=np.float32, shape=shape)
        ctx.node("Cast", [wide], [out], {"to": onnx.TensorProto.BFLOAT16})
        wide_outs.append(wide)
    return wide_outs


def _float_kind(t: gs.Tensor) -> np.dtype | None:
    """float32 or float16 (what the decomposition computes in), else None (e.g. bfloat16)."""
    try:
        dtype = emit.np_float(t)
    except (TypeError, ValueError):
        return None
    return dtype if dtype in (np.float32, np.float16) else None


def _use_attention_op(node: gs.Node, ctx: PassContext, impl: str) -> bool:
    """Whether the core becomes the opset-23 Attention op (see the module docstring)."""
    if _input(node, HEAD_SINK) is not None or int(node.attrs.get("smooth_softmax", 0)):
        return False  # Attention has no extra softmax logit
    if impl == "onnx-attention":
        return True
    if impl != "auto" or ctx.opset < OPSET_ATTENTION or not ctx.target.is_rtx:
        return False
    return (
        emit.np_float(node.inputs[Q]) == np.float16
        and _head_size(node) in ATTENTION_PROBE["float16_head_sizes"]
    )


# -- RotaryEmbedding ------------------------------------------------------------------------
def _rotary_skip(node: gs.Node, ctx: PassContext) -> str | None:
    from trtforge.analyzer.kb import find_rule
    from trtforge.analyzer.kb.ops.contrib_llm import rotary_heads_problem

    rule = find_rule(MS, "RotaryEmbedding")
    if (
        rule is not None
        and rule.since.available(ctx.target)
        and rotary_heads_problem(tensor_rank(node.inputs[0]), node.attrs.get("num_heads")) is None
    ):
        return f"the {ctx.target.line} parser imports com.microsoft RotaryEmbedding (kept)"
    if int(node.attrs.get("is_packed_batching", 0)):
        return "is_packed_batching is set (not decomposed)"
    if len(node.inputs) < 4:
        return "cos_cache/sin_cache are missing"
    rank = tensor_rank(node.inputs[0])
    if rank not in (3, 4):
        return f"input '{node.inputs[0].name}' has rank {rank} (3 or 4 needed)"
    if _static_last(node.inputs[2]) is None:
        return "cos_cache's width is not static"
    if _rotary_head(node) is None:
        return "the head size of the input is unknown"
    if not emit.is_float(node.inputs[0]) or _float_kind(node.inputs[0]) is None:
        return f"input '{node.inputs[0].name}' is not known to be a float32/float16 tensor"
    if ctx.opset < 13:
        return f"the decomposition needs opset 13 (the model has {ctx.opset})"
    return None


def _rotary_head(node: gs.Node) -> int | None:
    x = node.inputs[0]
    if tensor_rank(x) == 4:
        return _static_last(x)
    heads = int(node.attrs.get("num_heads", 0))
    hidden = _static_last(x)
    if heads > 0 and hidden is not None and hidden % heads == 0:
        return hidden // heads
    width = _static_last(node.inputs[2])
    if heads == 0 and width and hidden is not None and hidden % (2 * width) == 0:
        return 2 * width  # onnxruntime: head size = 2 × the cache width, heads = hidden / that
    return None


def _rotary_embedding(node: gs.Node, outs, ctx: PassContext) -> None:
    """x is (B, S, N·H) or (B, N, S, H); position_ids is (B, S), or one offset (pos = offset+s)."""
    b = _B(ctx)
    x, positions, cos_cache, sin_cache = node.inputs[:4]
    head = _rotary_head(node)
    rotary_dim = int(node.attrs.get("rotary_embedding_dim", 0)) or 2 * _static_last(cos_cache)
    interleaved = bool(int(node.attrs.get("interleaved", 0)))
    four_d = tensor_rank(x) == 4
    seq = b.dim(x, 2 if four_d else 1)
    pos = b.cast(positions, np.int64)
    if positions.shape is not None and len(positions.shape) == 1:  # one offset
        steps = b.op("Range", [b.i64(0), seq, b.i64(1)], np.int64)
        pos = b.unsqueeze(b.op("Add", [b.reshape(pos, []), steps], np.int64), [0])  # (1, S)
    cos, sin = _cos_sin(b, cos_cache, sin_cache, pos)  # (B, S, R/2)
    if four_d:
        cos, sin = b.unsqueeze(cos, [1]), b.unsqueeze(sin, [1])  # (B, 1, S, R/2)
        _rotate(b, x, cos, sin, rotary_dim, head, interleaved, out=outs[0])
        return
    cos, sin = b.unsqueeze(cos, [2]), b.unsqueeze(sin, [2])  # (B, S, 1, R/2)
    split = b.reshape(x, [0, 0, -1, head])
    rotated = _rotate(b, split, cos, sin, rotary_dim, head, interleaved)
    b.op("Reshape", [rotated, b.op("Shape", [x], np.int64)], x.dtype, out=outs[0])


class DecomposeGQA(RewritePass):
    """com.microsoft GroupQueryAttention / RotaryEmbedding → standard ONNX ops."""

    id = "decompose-gqa"
    summary = (
        "ONNX Runtime GroupQueryAttention (KV cache, grouped heads, rotary, masks) and "
        "RotaryEmbedding → standard ONNX ops"
    )
    order = 11
    removes = frozenset({(MS, "GroupQueryAttention"), (MS, "RotaryEmbedding")})
    options = (
        PassOption(
            "gqa_impl",
            "auto",
            "decompose-gqa's attention core: decomposed = MatMul/Softmax, onnx-attention = the "
            "opset-23 Attention op (model at opset >= 23), auto (default) = onnx-attention only "
            "for an rtx target, a float16 model at opset >= 23 and head size 64 or 128 (where "
            "TensorRT-RTX 1.7 builds it), else decomposed",
            choices=GQA_IMPLS,
        ),
    )

    def find(self, ctx: PassContext):
        for node in list(ctx.graph.nodes):
            if node.domain == MS and node.op in ("GroupQueryAttention", "RotaryEmbedding"):
                yield Match(anchor=anchor(node), nodes=[node])

    @classmethod
    def required_opset(cls, options) -> int:
        """`--gqa-impl onnx-attention` writes Attention: the model is converted to opset 23."""
        return OPSET_ATTENTION if options.gqa_impl == "onnx-attention" else 0

    def _impl(self, ctx: PassContext) -> str:
        return ctx.options.gqa_impl

    @classmethod
    def leaves(cls, node, graph=None) -> str | None:
        if node.op_type != "GroupQueryAttention":
            return None
        from onnx.helper import get_attribute_value

        attrs = {a.name: get_attribute_value(a) for a in node.attribute}
        why = gqa_node_skip(attrs, {i for i, name in enumerate(node.input) if name})
        if why is not None or graph is None:
            return why
        return _viewed_window_cache_skip(node, int(attrs.get("local_window_size", -1)), graph)

    def check(self, match: Match, ctx: PassContext) -> str | None:
        node = match.nodes[0]
        if node.op == "RotaryEmbedding":
            return _rotary_skip(node, ctx)
        return _gqa_skip(node, ctx, self._impl(ctx))

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        node = match.nodes[0]
        outs = [t if t.name else None for t in node.outputs]
        detach(node)
        if node.op == "RotaryEmbedding":
            _rotary_embedding(node, outs, ctx)
        else:
            if _is_bf16(node.inputs[Q]):
                outs = _in_float32(node, outs, ctx)
            _gqa(node, outs, ctx, _use_attention_op(node, ctx, self._impl(ctx)))


PASS = DecomposeGQA
