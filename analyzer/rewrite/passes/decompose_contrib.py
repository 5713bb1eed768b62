"""decompose-contrib: onnxruntime contrib ops (com.microsoft) become standard ONNX TensorRT parses.

Before → After (one node each)::

    Gelu(x)                           → Gelu(x) (opset 20, where supported) | x*0.5*(1+Erf(x/√2))
    FastGelu(x[, bias])               → tanh-approximation GELU of x(+bias)
    BiasGelu(a, b)                    → GELU of Add(a, b)
    QuickGelu(x, alpha)               → Mul(x, Sigmoid(Mul(x, alpha)))
    FusedMatMul(a, b, alpha, transA, transB) → [Transpose] MatMul [Mul(alpha)]
    BiasAdd(x, bias, skip)            → Add(Add(x, bias), skip)
    FusedConv(x, w[, b, z], activation)  → Conv [Add(z)] then the activation
                                           (Relu/Tanh/Sigmoid/LeakyRelu/Clip/HardSigmoid)
    FusedGemm(a, b[, c], activation)     → Gemm then the activation
    NhwcConv(x: N×H×W×C, w: M×kH×kW×C/g[, b]) → Transpose(x) Conv(Transpose(w)) Transpose:
                                        channels-last data and weights, as onnxruntime's
                                        transformer optimizer writes them for UNets and VAEs
                                        (its NhwcConv fusion: Conv(x, w) ≡ Transpose ·
                                        NhwcConv(Transpose(x), wᵀ(0,2,3,1)) · Transpose);
                                        verified with `contrib_reference` (no CPU kernel)
    LayerNormalization(x, s[, b])     → LayerNormalization (opset ≥ 17) | ReduceMean/Sub/…/Div
    SimplifiedLayerNormalization(x, s)→ RMSNormalization (opset ≥ 23, if supported) | basic ops
    SkipLayerNormalization(x, skip, g[, b, bias])         → Add(s) then LayerNorm as above
    SkipSimplifiedLayerNormalization(x, skip, g[, bias])  → Add(s) then RMSNorm as above
        (--skipnorm-impl plugin: one trtforge::SkipLayerNorm / SkipRMSNorm node instead, the
         fused residual add + norm plugin, an absent beta/bias given as zeros; where the plugin
         cannot serve the node — no plugin SDK, a non-float type, a skip that is not the
         input's trailing dims, an unknown hidden size — the Add + norm above)
    EmbedLayerNormalization(ids, [seg_ids], word, pos, [seg], g[, b, mask, pos_ids])
                                      → Gather word/position/segment rows, Add, LayerNorm
                                        (mask_index: ReduceSum of the mask)
    Attention(x, w[, b, mask])        → MatMul/Split, per-head MatMul, Mul(scale), the mask
                                        added as Where(…, mask_filter_value, 0), Softmax, MatMul

    (SimplifiedLayerNormalization and SkipSimplifiedLayerNormalization are also matched in the
    default domain, where onnxruntime's optimizer registers them.)

Skips (reported): outputs the standard ops do not produce (mean, inv_std_var, Attention's
present state) are used; Attention with past state, an attention bias, rotary embedding, a
3-D/4-D mask or Q/K sizes that differ;
FusedMatMul with transBatchA/transBatchB; FusedConv/FusedGemm with another activation; a
transpose of an input of unknown rank; a normalization axis that cannot be expressed because
the input rank is unknown.
"""

from __future__ import annotations

from collections.abc import Callable

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite import emit
from trtforge.analyzer.rewrite.base import Match, PassContext, PassOption, RewritePass, detach
from trtforge.analyzer.rewrite.graphutil import (
    anchor,
    channels_first,
    channels_last,
    graph_output_names,
    guess_dtype,
    tensor_rank,
)

np = lazy_import("numpy")
gs = lazy_import("onnx_graphsurgeon")

MS = "com.microsoft"


def _used(node: gs.Node, index: int, graph: gs.Graph) -> bool:
    if index >= len(node.outputs):
        return False
    out = node.outputs[index]
    return bool(out.name) and (bool(out.outputs) or out.name in graph_output_names(graph))


def _input(node: gs.Node, index: int) -> gs.Tensor | None:
    if index < len(node.inputs) and node.inputs[index] is not None and node.inputs[index].name:
        return node.inputs[index]
    return None


def _add(
    ctx: PassContext, a: gs.Tensor, b: gs.Tensor | None, out: gs.Tensor | None = None
) -> gs.Tensor:
    if b is None:
        return a
    return emit.binary(ctx, "Add", a, b, out=out)


def _norm(ctx: PassContext, x, scale, bias, axis, eps, out, rms: bool) -> None:
    if (
        rms
        and ctx.opset >= emit.OPSET_RMSNORM
        and emit.op_supported("RMSNormalization", ctx.target)
    ):
        ctx.node("RMSNormalization", [x, scale], [out], {"axis": axis, "epsilon": eps})
    elif not rms and ctx.opset >= emit.OPSET_LAYERNORM:
        ctx.node(
            "LayerNormalization",
            [x, scale] + ([bias] if bias is not None else []),
            [out],
            {"axis": axis, "epsilon": eps},
        )
    elif not emit.decomposed_norm(ctx, x, scale, bias, axis, eps, out, rms):
        raise AssertionError("checked before: axis must be expressible")


# -- one function per op: (node, outs, ctx) -------------------------------------------------
def _gelu(node, outs, ctx):
    emit.gelu(ctx, node.inputs[0], outs[0], "none")


def _fast_gelu(node, outs, ctx):
    emit.gelu(ctx, _add(ctx, node.inputs[0], _input(node, 1)), outs[0], "tanh")


def _bias_gelu(node, outs, ctx):
    emit.gelu(ctx, _add(ctx, node.inputs[0], _input(node, 1)), outs[0], "none")


def _quick_gelu(node, outs, ctx):
    x = node.inputs[0]
    alpha = float(node.attrs.get("alpha", 1.702))
    scaled = emit.binary(ctx, "Mul", x, emit.scalar_const(ctx, alpha, emit.np_float(x), "alpha"))
    emit.binary(ctx, "Mul", x, emit.unary(ctx, "Sigmoid", scaled), out=outs[0])


def _swap_last(ctx, t: gs.Tensor) -> gs.Tensor:
    rank = tensor_rank(t)
    perm = list(range(rank))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return emit.unary(ctx, "Transpose", t, attrs={"perm": perm})


def _fused_matmul(node, outs, ctx):
    a, b = node.inputs[0], node.inputs[1]
    if node.attrs.get("transA", 0):
        a = _swap_last(ctx, a)
    if node.attrs.get("transB", 0):
        b = _swap_last(ctx, b)
    alpha = float(node.attrs.get("alpha", 1.0))
    if alpha == 1.0:
        emit.binary(ctx, "MatMul", a, b, out=outs[0])
    else:
        product = emit.binary(ctx, "MatMul", a, b)
        emit.binary(
            ctx,
            "Mul",
            product,
            emit.scalar_const(ctx, alpha, emit.np_float(a), "alpha"),
            out=outs[0],
        )


def _bias_add(node, outs, ctx):
    emit.binary(
        ctx,
        "Add",
        emit.binary(ctx, "Add", node.inputs[0], node.inputs[1]),
        node.inputs[2],
        out=outs[0],
    )


def _layer_norm(rms: bool):
    def build(node, outs, ctx):
        axis = int(node.attrs.get("axis", -1))
        eps = float(node.attrs.get("epsilon", 1e-5))
        bias = None if rms else _input(node, 2)
        _norm(ctx, node.inputs[0], node.inputs[1], bias, axis, eps, outs[0], rms)

    return build


#: onnxruntime's default epsilon of SkipLayerNormalization / SkipSimplifiedLayerNormalization
SKIP_EPSILON = 1e-12
SKIP_PLUGINS = {False: "SkipLayerNorm", True: "SkipRMSNorm"}


def _static_dims(t: gs.Tensor) -> list[int] | None:
    shape = t.shape
    if shape is None or not all(isinstance(d, int) and d >= 0 for d in shape):
        return None
    return list(shape)


def _hidden_size(node: gs.Node) -> int | None:
    """The normalized width: gamma's size, else the input's last dim (when static)."""
    gamma = node.inputs[2]
    dims = _static_dims(gamma)
    if dims is not None and len(dims) == 1:
        return dims[0]
    x_dims = node.inputs[0].shape
    if x_dims and isinstance(x_dims[-1], int) and x_dims[-1] > 0:
        return x_dims[-1]
    return None


def _dtype_name(t: gs.Tensor | None) -> str | None:
    if t is None:
        return None
    try:
        dtype = emit.np_float(t) if emit.is_float(t) else None
    except TypeError:
        return None
    if dtype is None:
        return None
    name = str(dtype)
    return name if name in ("float32", "float16", "bfloat16") else None


def skip_plugin_unfit(node: gs.Node) -> str | None:
    """Why the fused plugin cannot serve this Skip*LayerNormalization node (None: it can)."""
    if emit._catalog() is None:
        return "the trtforge plugin SDK is not installed"
    rms = "Simplified" in node.op
    if emit._catalog().find_plugin(SKIP_PLUGINS[rms], "1", "trtforge") is None:
        return f"the {SKIP_PLUGINS[rms]} plugin is not declared"
    x, skip, gamma = node.inputs[0], node.inputs[1], node.inputs[2]
    beta = None if rms else _input(node, 3)
    bias = _input(node, 3 if rms else 4)
    io = _dtype_name(x)
    if io is None:
        return f"input '{x.name}' is not known to be float32, float16 or bfloat16"
    if _dtype_name(skip) != io or (bias is not None and _dtype_name(bias) != io):
        return "skip and bias are not of the input's type"
    w = _dtype_name(gamma)
    if w not in (io, "float32") or (beta is not None and _dtype_name(beta) != w):
        return "gamma/beta are neither of the input's type nor float32"
    if _hidden_size(node) is None:
        return "the hidden size is not known (gamma's shape and the input's last dim)"
    x_rank, skip_dims = tensor_rank(x), skip.shape
    if x_rank is None or skip_dims is None:
        return "the ranks of input and skip are not known"
    lead = 0
    while lead < len(skip_dims) - 1 and skip_dims[lead] == 1:
        lead += 1
    tail = list(skip_dims[lead:])
    if len(tail) > x_rank:
        return "skip has more dims than the input"
    x_tail = list(x.shape[x_rank - len(tail) :]) if x.shape is not None else tail
    if any(a != b for a, b in zip(tail, x_tail, strict=True)):
        return "skip is not the input's trailing dims"
    return None


def _skip_plugin(node: gs.Node, outs: list, ctx: PassContext, rms: bool) -> None:
    """One trtforge SkipLayerNorm / SkipRMSNorm node; absent beta/bias become zeros."""
    x, skip, gamma = node.inputs[0], node.inputs[1], node.inputs[2]
    hidden = _hidden_size(node)
    beta = None if rms else _input(node, 3)
    bias = _input(node, 3 if rms else 4)
    if not rms and beta is None:
        beta = ctx.constant("beta_zeros", np.zeros(hidden, emit.np_float(gamma)))
    if bias is None:
        bias = ctx.constant("bias_zeros", np.zeros(hidden, emit.np_float(x)))
    summed = outs[3] if len(outs) > 3 and outs[3] is not None else None
    if summed is None:
        summed = ctx.variable("skip_sum", dtype=emit.np_float(x), shape=x.shape)
    inputs = [x, skip, gamma] + ([] if rms else [beta]) + [bias]
    eps = float(node.attrs.get("epsilon", SKIP_EPSILON))
    emit.plugin_node(ctx, SKIP_PLUGINS[rms], inputs, [outs[0], summed], epsilon=eps)


def _skip_layer_norm(rms: bool):
    def build(node, outs, ctx):
        if ctx.options.skipnorm_impl == "plugin" and skip_plugin_unfit(node) is None:
            _skip_plugin(node, outs, ctx, rms)
            return
        eps = float(node.attrs.get("epsilon", SKIP_EPSILON))
        x, skip, gamma = node.inputs[0], node.inputs[1], node.inputs[2]
        beta = None if rms else _input(node, 3)
        bias = _input(node, 3 if rms else 4)
        summed_out = outs[3] if len(outs) > 3 and outs[3] is not None else None
        total = emit.binary(ctx, "Add", x, skip, out=summed_out if bias is None else None)
        if bias is not None:
            total = emit.binary(ctx, "Add", total, bias, out=summed_out)
        _norm(ctx, total, gamma, beta, -1, eps, outs[0], rms)

    return build


def _embed_layer_norm(node, outs, ctx):
    """Word (+ position, + segment) embedding lookups, summed, then LayerNorm. Positions are
    `position_ids` when given, else 0..seq-1. The mask only feeds output 1 (mask_index),
    which this does not produce."""
    ids, word, positions, gamma = node.inputs[0], node.inputs[2], node.inputs[3], node.inputs[5]
    segment_ids, segments = _input(node, 1), _input(node, 4)
    position_ids = _input(node, 8)
    dtype = emit.np_float(word)
    total = ctx.variable("word", dtype=dtype)
    ctx.node("Gather", [word, ids], [total])
    if position_ids is None:
        position_ids = _sequence_positions(ctx, ids)
    lookups = [(positions, position_ids)]
    if segment_ids is not None and segments is not None:
        lookups.append((segments, segment_ids))
    summed_out = outs[2] if len(outs) > 2 and outs[2] is not None else None
    for index, (table, indices) in enumerate(lookups):
        rows = ctx.variable("embedding", dtype=dtype)
        ctx.node("Gather", [table, indices], [rows])
        last = index == len(lookups) - 1
        total = emit.binary(ctx, "Add", total, rows, out=summed_out if last else None)
    eps = float(node.attrs.get("epsilon", 1e-12))
    _norm(ctx, total, gamma, _input(node, 6), -1, eps, outs[0], rms=False)
    mask = _input(node, 7)
    if len(outs) > 1 and outs[1] is not None and mask is not None:
        # mask_index: how many mask entries are 1 (attended tokens, right padding), 1-D
        # (batch); onnxruntime's kernel counts exactly the 1s (a 2 or 3 counts as padding)
        one = ctx.constant("one", np.array(1, np.dtype(mask.dtype or np.int32)))
        attended = emit.binary(ctx, "Equal", mask, one, dtype=np.bool_)
        _reduce_sum(ctx, emit.cast(ctx, attended, np.int32), 1, outs[1])
        outs[1].dtype = np.int32
        outs[1].shape = [ids.shape[0] if ids.shape else "batch"]


def _sequence_positions(ctx: PassContext, x: gs.Tensor) -> gs.Tensor:
    """0, 1, …, seq-1 for a (batch, seq, …) tensor `x` (INT64, 1-D)."""
    shape = emit.unary(ctx, "Shape", x, dtype=np.int64)
    seq_axis = ctx.constant("seq_axis", np.array(1, np.int64))
    seq = emit.binary(ctx, "Gather", shape, seq_axis, dtype=np.int64)
    zero, one = (ctx.constant(n, np.array(v, np.int64)) for n, v in (("zero", 0), ("one", 1)))
    positions = ctx.variable("positions", dtype=np.int64)
    ctx.node("Range", [zero, seq, one], [positions])
    return positions


def _reduce_sum(ctx: PassContext, x: gs.Tensor, axis: int, out: gs.Tensor) -> None:
    if ctx.opset >= 13:
        axes = ctx.constant("axes", np.array([axis], np.int64))
        ctx.node("ReduceSum", [x, axes], [out], {"keepdims": 0})
    else:
        ctx.node("ReduceSum", [x], [out], {"axes": [axis], "keepdims": 0})


def _unsqueeze(ctx: PassContext, x: gs.Tensor, axes: list[int]) -> gs.Tensor:
    out = ctx.variable("unsqueezed", dtype=x.dtype)
    if ctx.opset >= 13:
        ctx.node("Unsqueeze", [x, ctx.constant("axes", np.array(axes, np.int64))], [out])
    else:
        ctx.node("Unsqueeze", [x], [out], {"axes": axes})
    return out


def _attention_sizes(node: gs.Node) -> list[int] | None:
    """(q, k, v) hidden sizes of an Attention node, or None when they cannot be known."""
    sizes = [int(v) for v in node.attrs.get("qkv_hidden_sizes", [])]
    if not sizes:
        weights = node.inputs[1]
        if (
            weights.shape is None
            or len(weights.shape) != 2
            or not isinstance(weights.shape[1], int)
        ):
            return None
        if weights.shape[1] % 3:
            return None
        sizes = [weights.shape[1] // 3] * 3
    heads = int(node.attrs.get("num_heads", 0))
    if len(sizes) != 3 or sizes[0] != sizes[1] or heads <= 0 or any(n % heads for n in sizes):
        return None
    return sizes


def _attention_unsupported(node: gs.Node) -> str | None:
    """Why an Attention node is left as it is (None: it is decomposed)."""
    for index, what in ((4, "past state"), (5, "attention bias"), (6, "past length")):
        if _input(node, index) is not None:
            return f"input {index} ({what}) is given (not decomposed)"
    for attr in ("do_rotary", "past_present_share_buffer"):
        if int(node.attrs.get(attr, 0)):
            return f"{attr} is set (not decomposed)"
    if _attention_sizes(node) is None:
        return "the Q/K/V sizes are not known, or Q and K differ, or do not split into num_heads"
    if tensor_rank(node.inputs[0]) not in (None, 3):  # the contrib spec: (batch, seq, hidden)
        return f"input '{node.inputs[0].name}' is not (batch, sequence, hidden)"
    mask = _input(node, 3)
    if mask is not None and tensor_rank(mask) not in (1, 2):
        return f"mask '{mask.name}' of rank {tensor_rank(mask)} (only 1-D counts and 2-D masks are)"
    return None


def _attention(node, outs, ctx):
    """onnxruntime's fused multi-head self-attention (no past state, no attention bias): QKV
    projection, per-head scaled dot products, the key-padding mask (a 1-D count of attended
    tokens or a 2-D 1/0 mask) and the causal mask as `mask_filter_value` added to the scores,
    Softmax, and the heads joined again."""
    x, weights = node.inputs[0], node.inputs[1]
    bias, mask = _input(node, 2), _input(node, 3)
    heads = int(node.attrs["num_heads"])
    sizes = _attention_sizes(node)
    dtype = emit.np_float(x)
    qkv = emit.binary(ctx, "MatMul", x, weights)
    if bias is not None:
        qkv = emit.binary(ctx, "Add", qkv, bias)
    parts = [ctx.variable(n, dtype=dtype) for n in ("q", "k", "v")]
    split = np.array(sizes, np.int64)
    if ctx.opset >= 13:
        ctx.node("Split", [qkv, ctx.constant("qkv_sizes", split)], parts, {"axis": -1})
    else:
        ctx.node("Split", [qkv], parts, {"axis": -1, "split": sizes})

    def by_head(t: gs.Tensor, size: int, perm: list[int]) -> gs.Tensor:
        shape = ctx.constant("heads_shape", np.array([0, 0, heads, size // heads], np.int64))
        split_heads = emit.binary(ctx, "Reshape", t, shape)
        return emit.unary(ctx, "Transpose", split_heads, attrs={"perm": perm})

    q = by_head(parts[0], sizes[0], [0, 2, 1, 3])  # (B, N, S, h)
    k = by_head(parts[1], sizes[1], [0, 2, 3, 1])  # (B, N, h, S)
    v = by_head(parts[2], sizes[2], [0, 2, 1, 3])
    scale = float(node.attrs.get("scale", 0.0)) or 1.0 / float(np.sqrt(sizes[0] // heads))
    scores = emit.binary(
        ctx, "Mul", emit.binary(ctx, "MatMul", q, k), emit.scalar_const(ctx, scale, dtype, "scale")
    )
    filler = float(node.attrs.get("mask_filter_value", -10000.0))
    if mask is not None or int(node.attrs.get("unidirectional", 0)):
        scores = emit.binary(ctx, "Add", scores, _attention_mask(ctx, x, mask, node, filler, dtype))
    probs = emit.unary(ctx, "Softmax", scores, attrs={"axis": -1})
    context = emit.unary(
        ctx, "Transpose", emit.binary(ctx, "MatMul", probs, v), attrs={"perm": [0, 2, 1, 3]}
    )
    joined = ctx.constant("joined_shape", np.array([0, 0, sizes[2]], np.int64))
    ctx.node("Reshape", [context, joined], [outs[0]])


def _attention_mask(ctx, x, mask, node, filler: float, dtype) -> gs.Tensor:
    """The additive mask, broadcastable to the scores (B, N, S, S): `filler` where a key is
    padding (per `mask`) or in the future (`unidirectional`), else 0."""
    keys = _sequence_positions(ctx, x)
    blocked = None
    if mask is not None:
        if len(mask.shape) == 1:  # attended tokens per sequence: keys at or past it are padding
            count_col = _unsqueeze(ctx, emit.cast(ctx, mask, np.int64), [1])  # (B, 1)
            attended = emit.binary(ctx, "Less", keys, count_col, dtype=np.bool_)
            blocked = emit.unary(ctx, "Not", attended)  # (GreaterOrEqual needs opset 12)
        else:  # 1 = attend, 0 = padding
            pad = ctx.constant("pad", np.array(0, np.dtype(mask.dtype or np.int32)))
            blocked = emit.binary(ctx, "Equal", mask, pad, dtype=np.bool_)
        blocked = _unsqueeze(ctx, blocked, [1, 2])  # (B, 1, 1, S)
    if int(node.attrs.get("unidirectional", 0)):
        queries = _unsqueeze(ctx, keys, [1])  # (S, 1)
        future = emit.binary(ctx, "Greater", keys, queries, dtype=np.bool_)  # (S, S)
        blocked = (
            future if blocked is None else emit.binary(ctx, "Or", blocked, future, dtype=np.bool_)
        )
    additive = ctx.variable("attention_mask", dtype=dtype)
    ctx.node(
        "Where",
        [
            blocked,
            emit.scalar_const(ctx, filler, dtype, "filler"),
            emit.scalar_const(ctx, 0.0, dtype, "open"),
        ],
        [additive],
    )
    return additive


CONV_ATTRS = ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")
ACTIVATIONS = ("Relu", "Tanh", "Sigmoid", "LeakyRelu", "Clip", "HardSigmoid")


def _activation(ctx, x: gs.Tensor, out: gs.Tensor, name: str, params: list[float]) -> None:
    """One of FusedConv/FusedGemm's activations, as the standard op."""
    dtype = emit.np_float(x)
    if name == "LeakyRelu":
        emit.unary(ctx, name, x, out=out, attrs={"alpha": params[0] if params else 0.01})
    elif name == "HardSigmoid":
        alpha, beta = (params + [0.2, 0.5][len(params) :])[:2]
        emit.unary(ctx, name, x, out=out, attrs={"alpha": alpha, "beta": beta})
    elif name == "Clip":
        low, high = (params + [float("-inf"), float("inf")][len(params) :])[:2]
        ctx.node(
            "Clip",
            [
                x,
                emit.scalar_const(ctx, low, dtype, "min"),
                emit.scalar_const(ctx, high, dtype, "max"),
            ],
            [out],
        )
    else:
        emit.unary(ctx, name, x, out=out)


def _fused_conv(node, outs, ctx):
    attrs = {k: v for k, v in node.attrs.items() if k in CONV_ATTRS}
    inputs = [t for t in node.inputs[:3] if t is not None and t.name]
    y = ctx.variable("conv", dtype=emit.np_float(node.inputs[0]))
    ctx.node("Conv", inputs, [y], attrs)
    z = _input(node, 3)
    if z is not None:
        y = emit.binary(ctx, "Add", y, z)
    name = node.attrs.get("activation", "")
    params = [float(p) for p in node.attrs.get("activation_params", [])]
    _activation(ctx, y, outs[0], name, params)


def _nhwc_rank(node) -> int | None:
    """The rank of an NhwcConv's data: its own, else its weights' (a Conv's are equal; the
    weights are a constant, where the data after other contrib ops is untyped)."""
    x_rank, w_rank = tensor_rank(node.inputs[0]), tensor_rank(node.inputs[1])
    if x_rank is not None and w_rank is not None and x_rank != w_rank:
        return None
    rank = x_rank if x_rank is not None else w_rank
    return rank if rank is not None and rank >= 3 else None


def _nhwc_conv(node, outs, ctx):
    rank = _nhwc_rank(node)
    attrs = {k: v for k, v in node.attrs.items() if k in CONV_ATTRS}
    dtype = emit.np_float(node.inputs[0])
    x = ctx.variable("nchw", dtype=dtype)
    ctx.node("Transpose", [node.inputs[0]], [x], {"perm": channels_first(rank)})
    w = ctx.variable("weight_oihw", dtype=emit.np_float(node.inputs[1]))
    ctx.node("Transpose", [node.inputs[1]], [w], {"perm": channels_first(rank)})
    bias = _input(node, 2)
    y = ctx.variable("conv", dtype=dtype)
    ctx.node("Conv", [x, w, *([bias] if bias is not None else [])], [y], attrs)
    ctx.node("Transpose", [y], [outs[0]], {"perm": channels_last(rank)})


def _fused_gemm(node, outs, ctx):
    attrs = {k: node.attrs[k] for k in ("alpha", "beta", "transA", "transB") if k in node.attrs}
    y = ctx.variable("gemm", dtype=emit.np_float(node.inputs[0]))
    ctx.node("Gemm", [t for t in node.inputs[:3] if t is not None and t.name], [y], attrs)
    name = node.attrs.get("activation", "")
    params = [
        float(node.attrs[k]) for k in ("activation_alpha", "activation_beta") if k in node.attrs
    ]
    _activation(ctx, y, outs[0], name, params)


Builder = Callable[["gs.Node", list, PassContext], None]

#: op_type → (builder, indices of outputs the standard ops reproduce, needs known rank)
HANDLERS: dict[str, tuple[Builder, tuple[int, ...]]] = {
    "Gelu": (_gelu, (0,)),
    "FastGelu": (_fast_gelu, (0,)),
    "BiasGelu": (_bias_gelu, (0,)),
    "QuickGelu": (_quick_gelu, (0,)),
    "FusedMatMul": (_fused_matmul, (0,)),
    "BiasAdd": (_bias_add, (0,)),
    "FusedConv": (_fused_conv, (0,)),
    "NhwcConv": (_nhwc_conv, (0,)),
    "FusedGemm": (_fused_gemm, (0,)),
    "LayerNormalization": (_layer_norm(False), (0,)),
    "SimplifiedLayerNormalization": (_layer_norm(True), (0,)),
    "SkipLayerNormalization": (_skip_layer_norm(False), (0, 3)),
    "SkipSimplifiedLayerNormalization": (_skip_layer_norm(True), (0, 3)),
    "EmbedLayerNormalization": (_embed_layer_norm, (0, 1, 2)),
    "Attention": (_attention, (0,)),
}


#: outputs of each contrib op of its data input's element type (output 0 where not listed)
_DATA_TYPED_OUTPUTS = {
    "SkipLayerNormalization": (0, 3),
    "SkipSimplifiedLayerNormalization": (0, 3),
    "EmbedLayerNormalization": (0, 2),
}

#: contrib ops onnxruntime registers under the default domain (they are not ONNX standard ops)
DEFAULT_DOMAIN = frozenset({"SimplifiedLayerNormalization", "SkipSimplifiedLayerNormalization"})


class DecomposeContrib(RewritePass):
    """com.microsoft contrib ops → standard ONNX ops or the fused standard op."""

    id = "decompose-contrib"
    summary = "ONNX Runtime com.microsoft contrib ops → standard ONNX subgraphs TensorRT parses"
    order = 10
    removes = frozenset({(MS, op) for op in HANDLERS} | {("", op) for op in DEFAULT_DOMAIN})
    options = (
        PassOption(
            "skipnorm_impl",
            "auto",
            "--skipnorm-impl: SkipLayerNormalization / SkipSimplifiedLayerNormalization as "
            "Add + the standard norm ('auto', default) or as the fused trtforge "
            "SkipLayerNorm / SkipRMSNorm plugin node ('plugin'; Add + norm where the plugin "
            "cannot serve the node)",
            choices=("auto", "plugin"),
        ),
    )

    def find(self, ctx: PassContext):
        for node in list(ctx.graph.nodes):
            domain = node.domain or ""
            if (domain == MS and node.op in HANDLERS) or (
                domain in ("", "ai.onnx") and node.op in DEFAULT_DOMAIN
            ):
                yield Match(anchor=anchor(node), nodes=[node])

    @classmethod
    def leaves(cls, node, graph=None) -> str | None:
        """What `check` says of the node from the node and its graph's readers: an output
        the standard ops do not produce is read (Attention's present state), or an Attention
        the decomposition does not cover (past state, bias, rotary)."""
        if (node.domain or "") != MS or node.op_type not in HANDLERS:
            return None
        _, produced = HANDLERS[node.op_type]
        if graph is not None:
            for index, name in enumerate(node.output):
                if index in produced or not name:
                    continue
                if graph.consumers.get(name) or graph.is_graph_output(name):
                    return f"output {index} ('{name}') is used; standard ops do not produce it"
        if node.op_type == "Attention":
            for index, what in ((4, "past state"), (5, "attention bias"), (6, "past length")):
                if len(node.input) > index and node.input[index]:
                    return f"input {index} ({what}) is given (not decomposed)"
            for attr in node.attribute:
                if attr.name in ("do_rotary", "past_present_share_buffer") and attr.i:
                    return f"{attr.name} is set (not decomposed)"
        return None

    def check(self, match: Match, ctx: PassContext) -> str | None:
        node = match.nodes[0]
        _, produced = HANDLERS[node.op]
        for index in range(len(node.outputs)):
            if index not in produced and _used(node, index, ctx.graph):
                name = node.outputs[index].name
                return f"output {index} ('{name}') is used; standard ops do not produce it"
        if node.op == "FusedMatMul":
            if node.attrs.get("transBatchA", 0) or node.attrs.get("transBatchB", 0):
                return "transBatchA/transBatchB are set (not decomposed)"
            for flag, t in (("transA", node.inputs[0]), ("transB", node.inputs[1])):
                if node.attrs.get(flag, 0) and (tensor_rank(t) is None or tensor_rank(t) < 2):
                    return f"{flag} is set and the rank of '{t.name}' is unknown"
        if node.op == "EmbedLayerNormalization" and _used(node, 1, ctx.graph):
            if _input(node, 7) is None:
                return "output 1 (mask_index) is used but the node has no mask to count"
        needs_range = node.op == "Attention" or (
            node.op == "EmbedLayerNormalization" and _input(node, 8) is None
        )
        if needs_range and ctx.opset < 11:
            return f"the decomposition needs Range (opset 11; the model has {ctx.opset})"
        if node.op == "Attention":
            reason = _attention_unsupported(node)
            if reason:
                return reason
        if node.op == "NhwcConv" and _nhwc_rank(node) is None:
            return "the ranks of X and W are unknown or differ (channels-last data of rank 3+)"
        if node.op in ("FusedConv", "FusedGemm"):
            activation = node.attrs.get("activation", "")
            if activation not in ACTIVATIONS:
                return f"activation '{activation}' has no standard-op mapping here"
        if "LayerNormalization" in node.op:
            rms = "Simplified" in node.op
            needs_decomposition = (
                (ctx.opset < emit.OPSET_LAYERNORM)
                if not rms
                else not (
                    ctx.opset >= emit.OPSET_RMSNORM
                    and emit.op_supported("RMSNormalization", ctx.target)
                )
            )
            axis = int(node.attrs.get("axis", -1)) if not node.op.startswith("Skip") else -1
            if needs_decomposition and emit.axes_for(axis, tensor_rank(node.inputs[0])) is None:
                return f"axis={axis} with an input of unknown rank cannot be decomposed"
        data = node.inputs[2] if node.op == "EmbedLayerNormalization" else node.inputs[0]
        if node.op != "FusedMatMul" and not emit.is_float(data):
            return f"input '{data.name}' is not known to be a float tensor"
        return None

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        node = match.nodes[0]
        outs = [t if t.name else None for t in node.outputs]
        builder, _ = HANDLERS[node.op]
        data = node.inputs[2] if node.op == "EmbedLayerNormalization" else node.inputs[0]
        dtype = guess_dtype(data)
        detach(node)
        builder(node, outs, ctx)
        # the outputs keep the data's float type; said here, the next contrib node's check
        # reads it (ONNX's inference does not type a contrib op's output, and walking up a
        # chain of decomposed nodes for it ran out: MobileViT's `--auto` stopped at 18 → 9)
        for index in _DATA_TYPED_OUTPUTS.get(node.op, (0,)):
            if dtype is not None and index < len(outs) and outs[index] is not None:
                if outs[index].dtype is None:
                    outs[index].dtype = dtype


PASS = DecomposeContrib
