"""dequantize-nbits: onnxruntime block-quantized weight ops → DequantizeLinear + MatMul/Gather.

onnxruntime-genai's int4 LLM exports hold every projection as com.microsoft `MatMulNBits` and a
tied embedding as `GatherBlockQuantized`. TensorRT's open-source parser has no importer for
either; TensorRT-RTX 1.7 imports MatMulNBits only through a plugin its PyPI build does not ship
(knowledge base: `contrib_llm`). TensorRT's own weight-only quantization path is a blocked
`DequantizeLinear` (opset 21, INT4 weights, zero point zero) feeding the MatMul or Gather.

Before → After::

    Y = MatMulNBits<K, N, bits, block_size>(A, B, scales[, zero_points, g_idx, bias])
      → W = DequantizeLinear<axis=0, block_size>(Wq: int4[K, N], S[ceil(K/bs), N])
        Y = MatMul(A, W) [+ bias]                                  # form "int4-blocked"
      → Y = MatMul(A, W: float[K, N]) [+ bias]                     # form "float"

    Y = GatherBlockQuantized<gather_axis, quantize_axis, block_size, bits>(data, idx, scales[, zp])
      → W = DequantizeLinear<axis=quantize_axis, block_size>(Wq: int4, S); Y = Gather(W, idx)
      → Y = Gather(W: float, idx)

The int4-blocked form is exact when the weights are symmetric about the zero point onnxruntime
assumes (no zero points, or every zero point at the midpoint 2^(bits-1) for unsigned data):
the signed weights are `q - zero_point`. With bits=8 the same form holds INT8 weights; it is
used on TensorRT-RTX only (observed to parse and build, fp32 and fp16 activations), elsewhere
the weights are dequantized. Negative scales (onnxruntime-genai's quantizer writes them) are
taken by TensorRT-RTX for INT4 data only; the open-source parser refuses any nonpositive
constant scale, so there the weights are dequantized. Any other zero point (TensorRT's
DequantizeLinear refuses nonzero ones), act-order `g_idx`, a model below opset 21, or
`--nbits-impl float` give the float form, dequantized with the same arithmetic as
onnxruntime's kernels. The pass notes which form each node took (trt-rewrite prints the notes).

A standard blocked `DequantizeLinear` (opset 21+, `block_size`) of constant 4- or 8-bit
weights that TensorRT refuses — unsigned data or a zero point (onnxruntime's QDQ int4
quantizer and onnxruntime-genai's `use_qdq` asymmetric exports write UINT4 weights with
per-block zero points) — takes the same two forms::

    W = DequantizeLinear<axis, block_size>(Wq: uint4|int4|uint8|int8, S[, ZP])
      → W = DequantizeLinear<axis, block_size>(Wq - ZP: int4|int8, S)  # every value fits
      → W = Identity(float weights (Wq - ZP) * S)                      # otherwise

trt-check names the pass as the fix of such a node (`fixes`), also where its weights live in
an external data file (which fold-constants does not read).

Skips (reported): weights, scales or zero points that are not build-time constants (or live in
an external file that was not loaded); shapes that disagree with the K/N/bits/block_size
attributes; bits other than 2, 4 or 8; a g_idx entry outside the block range.
"""

from __future__ import annotations

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import Match, PassContext, PassOption, RewritePass, detach
from trtforge.analyzer.rewrite.graphutil import anchor, const_value, producer

np = lazy_import("numpy")
ml_dtypes = lazy_import("ml_dtypes")
numpy_helper = lazy_import("onnx.numpy_helper")
helper = lazy_import("onnx.helper")
gs = lazy_import("onnx_graphsurgeon")

MS = "com.microsoft"
#: DequantizeLinear takes block_size from opset 21.
OPSET_BLOCKED_DQ = 21
#: weights this pass decodes whatever their size (they are the point of the pass).
UNLIMITED = 1 << 62
#: bit widths whose weights this pass re-encodes as signed integers (`_signed_type`).
_SIGNED_BITS = (4, 8)


def _signed_type(bits: int) -> type:
    """The signed integer type of `bits`-wide weights (int4 comes from ml_dtypes)."""
    return ml_dtypes.int4 if bits == 4 else np.int8


def _value(tensor: gs.Tensor | None) -> np.ndarray | None:
    """A constant's value, looking through Reshape/Identity of constants (onnxruntime-genai
    shares a tied embedding's packed weight with the LM head through a Reshape)."""
    value = const_value(tensor, max_elements=UNLIMITED)
    if value is not None or tensor is None:
        return value
    node = producer(tensor)
    if node is None or (node.domain or "") not in ("", "ai.onnx"):
        return None
    if node.op == "Identity":
        return _value(node.inputs[0])
    if node.op == "Reshape" and len(node.inputs) == 2:
        data, shape = _value(node.inputs[0]), const_value(node.inputs[1])
        if data is None or shape is None or node.attrs.get("allowzero", 0):
            return None
        dims = [int(d) if d != 0 else data.shape[i] for i, d in enumerate(shape.tolist())]
        try:
            return data.reshape(dims)
        except ValueError:
            return None
    return None


def _input(node: gs.Node, index: int) -> gs.Tensor | None:
    if index < len(node.inputs) and node.inputs[index].name:
        return node.inputs[index]
    return None


def _unpack(packed: np.ndarray, bits: int) -> np.ndarray:
    """uint8 bytes → unsigned `bits`-bit values along the last axis, low bits first (the
    layout onnxruntime's MatMulNBits and GatherBlockQuantized read)."""
    packed = packed.astype(np.uint8)
    if bits == 8:
        return packed.astype(np.int32)
    per_byte = 8 // bits
    shifts = np.arange(per_byte, dtype=np.uint8) * bits
    values = (packed[..., None] >> shifts) & ((1 << bits) - 1)
    return values.reshape(*packed.shape[:-1], packed.shape[-1] * per_byte).astype(np.int32)


# -- MatMulNBits ---------------------------------------------------------------------------------
def _matmul_nbits(node: gs.Node) -> dict | str:
    """Decodes a MatMulNBits node into q[N, K] (unsigned), zero points and scales per
    (n, group), and the group of each k; or the reason it cannot."""
    k, n = int(node.attrs.get("K", 0)), int(node.attrs.get("N", 0))
    bits, block = int(node.attrs.get("bits", 4)), int(node.attrs.get("block_size", 0))
    if bits not in (2, 4, 8):
        return f"bits={bits} (2, 4 or 8 are decoded)"
    if k <= 0 or n <= 0 or block <= 0:
        return f"K={k}, N={n}, block_size={block} are not all positive"
    blocks = -(-k // block)
    b = _value(node.inputs[1])
    scales = _value(node.inputs[2])
    if b is None or scales is None:
        return "B or scales is not a build-time constant (or its external data is not loaded)"
    if b.dtype != np.uint8 or b.size != n * blocks * block * bits // 8:
        return f"B has {b.dtype} {list(b.shape)}, not uint8 [N={n}, {blocks}, {block * bits // 8}]"
    if scales.size != n * blocks:
        return f"scales have {scales.size} values, not N*blocks = {n * blocks}"
    q = _unpack(b.reshape(n, blocks, -1), bits).reshape(n, blocks * block)[:, :k]
    scales = scales.reshape(n, blocks)
    zero = 1 << (bits - 1)
    zp_tensor = _input(node, 3)
    zp: np.ndarray | None = None
    if zp_tensor is not None:
        zp = _value(zp_tensor)
        if zp is None:
            return "zero_points are not a build-time constant"
        if zp.dtype == np.uint8:
            per_row = -(-blocks * bits // 8)
            if zp.size != n * per_row:
                return f"packed zero_points have {zp.size} bytes, not {n * per_row}"
            zp = _unpack(zp.reshape(n, per_row), bits)[:, :blocks]
        elif zp.size != n * blocks:
            return f"zero_points have {zp.size} values, not N*blocks = {n * blocks}"
        zp = zp.reshape(n, blocks)
    groups = np.arange(k) // block
    g_idx = _input(node, 4)
    if g_idx is not None:
        value = _value(g_idx)
        if value is None or value.size != k:
            return "g_idx is not a build-time constant of K values"
        if value.min() < 0 or value.max() >= blocks:
            return f"g_idx has entries outside 0..{blocks - 1}"
        groups = value.astype(np.int64).reshape(k)
    return {
        "q": q,
        "scales": scales,
        "zp": zp,
        "zero": zero,
        "groups": groups,
        "bits": bits,
        "block": block,
        "k": k,
        "n": n,
    }


def _symmetric(zp: np.ndarray | None, zero: int) -> bool:
    return zp is None or bool(np.all(zp == zero))


class DequantizeNBits(RewritePass):
    """MatMulNBits / GatherBlockQuantized → blocked DequantizeLinear (or float weights) +
    MatMul / Gather."""

    id = "dequantize-nbits"
    summary = (
        "onnxruntime MatMulNBits / GatherBlockQuantized → blocked INT4 DequantizeLinear "
        "(or float weights) + MatMul / Gather"
    )
    order = 12
    removes = frozenset({(MS, "MatMulNBits"), (MS, "GatherBlockQuantized")})
    reads_weights = True
    options = (
        PassOption(
            "nbits_impl",
            "auto",
            "--nbits-impl: weights of MatMulNBits/GatherBlockQuantized as blocked "
            "DequantizeLinear where exact and the target takes it ('auto'), or always "
            "dequantized to float ('float')",
            choices=("auto", "float"),
        ),
    )

    @classmethod
    def fixes(cls, node, graph) -> str | None:
        if node.op_type != "DequantizeLinear" or node.domain not in ("", "ai.onnx"):
            return None
        block = next((a.i for a in node.attribute if a.name == "block_size"), 0)
        names = [name for name in node.input if name]
        if block <= 0 or len(names) < 2 or not all(graph.is_constant(n) for n in names):
            return None
        dtype = graph.tensor(node.input[0]).dtype
        if dtype not in _BLOCKED_DATA or (dtype.startswith("INT") and len(names) < 3):
            return None
        return (
            "trt-rewrite --dequantize-nbits rewrites its blocked weights as signed "
            "DequantizeLinear without a zero point where every value fits, else as float "
            "weights"
        )

    def find(self, ctx: PassContext):
        for node in list(ctx.graph.nodes):
            if node.domain == MS and node.op in ("MatMulNBits", "GatherBlockQuantized"):
                yield Match(anchor=anchor(node), nodes=[node])
            elif _blocked_dq_candidate(node):
                yield Match(anchor=anchor(node), nodes=[node])

    def check(self, match: Match, ctx: PassContext) -> str | None:
        node = match.nodes[0]
        if node.op == "DequantizeLinear":
            decoded = _blocked_dq(node)
        else:
            decoded = _matmul_nbits(node) if node.op == "MatMulNBits" else _gather_bq(node)
        if isinstance(decoded, str):
            return decoded
        match.data.update(decoded)
        return None

    def _quantized_ok(self, ctx: PassContext, data: dict, contiguous: bool) -> bool:
        """The blocked-DequantizeLinear form: exact, wanted, and taken by the target."""
        if ctx.options.nbits_impl != "auto" or ctx.opset < OPSET_BLOCKED_DQ or not contiguous:
            return False
        if data["bits"] == 8 and ctx.target.family != "rtx":
            return False
        if data["bits"] not in _SIGNED_BITS or not _symmetric(data["zp"], data["zero"]):
            return False
        if data["bits"] == 4 and data["q"].size % 2:
            return False  # TensorRT: 4-bit data needs an even element count
        if not bool(np.all(data["scales"] > 0)) and not (
            data["bits"] == 4 and ctx.target.family == "rtx"
        ):
            return False  # negative scales: TensorRT-RTX takes them for INT4 data only
        info = np.iinfo(np.int8) if data["bits"] == 8 else ml_dtypes.iinfo(ml_dtypes.int4)
        signed = data["q"] - data["zero"]
        return bool(signed.min() >= int(info.min) and signed.max() <= int(info.max))

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        node = match.nodes[0]
        if node.op == "DequantizeLinear":
            self._rewrite_blocked_dq(node, match.data, ctx)
        elif node.op == "MatMulNBits":
            self._rewrite_matmul(node, match.data, ctx)
        else:
            self._rewrite_gather(node, match.data, ctx)
        detach(node)

    def _weights(
        self, ctx: PassContext, data: dict, q, scales, zp, axis: int, what: str, quantized: bool
    ) -> tuple[gs.Tensor, str]:
        """The weight tensor for MatMul/Gather and the form it took.

        `q` holds the unsigned/signed integers laid out as the consumer reads them, blocks
        along `axis`; `scales` are per block (quantized form) or per element (float form),
        `zp` per element or None (the default zero point `data["zero"]`).
        """
        dtype = scales.dtype
        if quantized:
            from onnx_graphsurgeon.ir.tensor import LazyValues

            signed = (q - data["zero"]).astype(_signed_type(data["bits"]))
            proto = numpy_helper.from_array(signed, ctx.unique(f"{what}_q"))
            wq = gs.Constant(proto.name, LazyValues(proto))
            weights = ctx.variable(f"{what}_dq", dtype=dtype, shape=list(q.shape))
            ctx.node(
                "DequantizeLinear",
                [wq, ctx.constant(f"{what}_scale", scales)],
                [weights],
                {"axis": axis, "block_size": data["block"]},
            )
            return weights, f"INT{data['bits']} blocked DequantizeLinear"
        offset = data["zero"] if zp is None else zp
        w = (q.astype(np.float32) - offset) * scales.astype(np.float32)
        return ctx.constant(f"{what}_dequantized", w.astype(dtype)), "float weights"

    def _rewrite_matmul(self, node: gs.Node, data: dict, ctx: PassContext) -> None:
        q, groups = data["q"], data["groups"]  # q [N, K]; groups [K]
        contiguous = bool(np.array_equal(groups, np.arange(data["k"]) // data["block"]))
        if self._quantized_ok(ctx, data, contiguous):
            weights, form = self._weights(
                ctx, data, q.T, np.ascontiguousarray(data["scales"].T), None, 0, "weight", True
            )
        else:
            zp = None if data["zp"] is None else data["zp"][:, groups].T
            scales = data["scales"][:, groups].T
            weights, form = self._weights(ctx, data, q.T, scales, zp, 0, "weight", False)
        bias = _input(node, 5)
        out = node.outputs[0]
        if bias is None:
            ctx.node("MatMul", [node.inputs[0], weights], [out])
        else:
            product = ctx.variable("product", dtype=out.dtype)
            ctx.node("MatMul", [node.inputs[0], weights], [product])
            ctx.node("Add", [product, bias], [out])
        ctx.note(f"MatMulNBits → {form} + MatMul")

    def _rewrite_blocked_dq(self, node: gs.Node, data: dict, ctx: PassContext) -> None:
        q, axis, block, zp = data["q"], data["axis"], data["block"], data["zero"]
        scales = data["scales"]
        out = node.outputs[0]
        if self._quantized_ok(ctx, data, True):
            signed = (q - zp).astype(_signed_type(data["bits"]))
            from onnx_graphsurgeon.ir.tensor import LazyValues

            proto = numpy_helper.from_array(signed, ctx.unique("weight_q"))
            wq = gs.Constant(proto.name, LazyValues(proto))
            scale = ctx.constant("weight_scale", scales)
            ctx.node("DequantizeLinear", [wq, scale], [out], {"axis": axis, "block_size": block})
            form = f"INT{data['bits']} blocked DequantizeLinear without a zero point"
        else:
            keep = np.arange(q.shape[axis])

            def per_element(v):
                return np.take(np.repeat(v, block, axis=axis), keep, axis=axis)

            w = (q.astype(np.float32) - zp) * per_element(scales).astype(np.float32)
            weights = ctx.constant("weight_dequantized", w.astype(data["dtype"]))
            ctx.node("Identity", [weights], [out])
            form = "float weights"
        ctx.note(f"blocked DequantizeLinear → {form}")

    def _rewrite_gather(self, node: gs.Node, data: dict, ctx: PassContext) -> None:
        q, axis, block = data["q"], data["axis"], data["block"]
        if self._quantized_ok(ctx, data, True):
            weights, form = self._weights(ctx, data, q, data["scales"], None, axis, "table", True)
        else:
            keep = np.arange(q.shape[axis])

            def per_element(v):
                return np.take(np.repeat(v, block, axis=axis), keep, axis=axis)

            zp = None if data["zp"] is None else per_element(data["zp"])
            scales = per_element(data["scales"])
            weights, form = self._weights(ctx, data, q, scales, zp, axis, "table", False)
        ctx.node(
            "Gather", [weights, node.inputs[1]], [node.outputs[0]], {"axis": data["gather_axis"]}
        )
        ctx.note(f"GatherBlockQuantized → {form} + Gather")


# -- GatherBlockQuantized ------------------------------------------------------------------------
def _gather_bq(node: gs.Node) -> dict | str:
    """Decodes a GatherBlockQuantized node: q (unsigned or signed ints, unpacked), scales and
    zero points per block, the axes; or the reason it cannot."""
    bits = int(node.attrs.get("bits", 4))
    block = int(node.attrs.get("block_size", 128))
    gather_axis = int(node.attrs.get("gather_axis", 0))
    quantize_axis = int(node.attrs.get("quantize_axis", 1))
    if bits not in (4, 8):
        return f"bits={bits} (4 or 8 are decoded)"
    if block <= 0:
        return f"block_size={block} is not positive"
    data = _value(node.inputs[0])
    scales = _value(node.inputs[2])
    if data is None or scales is None:
        return "data or scales is not a build-time constant (or its external data is not loaded)"
    rank = data.ndim
    gather_axis %= max(rank, 1)
    quantize_axis %= max(rank, 1)
    if data.dtype == np.uint8 and bits == 4:
        if quantize_axis != rank - 1:
            return "packed uint8 data quantized along an axis other than the last"
        q = _unpack(data, 4)
    elif data.dtype in (np.uint8, np.int8, ml_dtypes.int4, ml_dtypes.uint4):
        q = data.astype(np.int32)
    else:
        return f"data has type {data.dtype} (int4, uint4 or uint8 are decoded)"
    blocks = list(q.shape)
    blocks[quantize_axis] = -(-q.shape[quantize_axis] // block)
    if list(scales.shape) != blocks:
        return f"scales {list(scales.shape)} do not match the blocks of the data {blocks}"
    # onnxruntime's default zero point: the midpoint for packed uint8 data, 0 for int4/uint4
    zero = (1 << (bits - 1)) if data.dtype == np.uint8 else 0
    zp = None
    zp_tensor = _input(node, 3)
    if zp_tensor is not None:
        zp = _value(zp_tensor)
        if zp is None:
            return "zero_points are not a build-time constant"
        if zp.dtype == np.uint8 and bits == 4:
            zp = _unpack(zp, 4)
            zp = np.take(zp, np.arange(blocks[quantize_axis]), axis=quantize_axis)
        zp = zp.astype(np.int32)
        if list(zp.shape) != blocks:
            return f"zero_points {list(zp.shape)} do not match the blocks {blocks}"
    return {
        "q": q,
        "scales": scales,
        "zp": zp,
        "zero": zero,
        "bits": bits,
        "block": block,
        "axis": quantize_axis,
        "gather_axis": gather_axis,
    }


# -- blocked DequantizeLinear ----------------------------------------------------------------
#: element types of the blocked DequantizeLinear data this pass decodes, by name and by
#: numpy type (ml_dtypes' for 4 bits).
_BLOCKED_DATA = {"UINT4": 4, "INT4": 4, "UINT8": 8, "INT8": 8}


def _blocked_dq_candidate(node: gs.Node) -> bool:
    """A default-domain DequantizeLinear with `block_size` whose data TensorRT refuses as it
    is: unsigned, or given with a zero point (`_blocked_dq` decides the rest)."""
    if node.op != "DequantizeLinear" or (node.domain or "") not in ("", "ai.onnx"):
        return False
    if int(node.attrs.get("block_size", 0)) <= 0 or not node.inputs:
        return False
    data = node.inputs[0]
    dtype = np.dtype(data.dtype) if data.dtype is not None else None
    if dtype is None:
        return False
    unsigned = dtype in (np.dtype(np.uint8), np.dtype(ml_dtypes.uint4))
    signed = dtype in (np.dtype(np.int8), np.dtype(ml_dtypes.int4))
    return unsigned or (signed and _input(node, 2) is not None)


def _blocked_dq(node: gs.Node) -> dict | str:
    """Decodes a blocked DequantizeLinear: q and its zero points (int32; the zero points,
    repeated per element along the axis, as `zero`: what `q - zero` signs), scales per
    block, the axis; or the reason it cannot."""
    block = int(node.attrs.get("block_size", 0))
    data, scales = _value(node.inputs[0]), _value(_input(node, 1))
    if data is None or scales is None:
        return "data or scale is not a build-time constant (or its external data is not loaded)"
    bits = 4 if data.dtype in (ml_dtypes.uint4, ml_dtypes.int4) else 8
    rank = data.ndim
    if rank == 0 or scales.ndim != rank:
        return f"scale of rank {scales.ndim} for data of rank {rank} (blocked scales have its rank)"
    axis = int(node.attrs.get("axis", 1))
    if not -rank <= axis < rank:
        return f"axis={axis} is outside the data's rank {rank}"
    axis %= rank
    blocks = list(data.shape)
    blocks[axis] = -(-data.shape[axis] // block)
    if list(scales.shape) != blocks:
        return f"scale {list(scales.shape)} does not match the blocks of the data {blocks}"
    zp_tensor = _input(node, 2)
    zp = np.zeros(blocks, np.int32)
    if zp_tensor is not None:
        value = _value(zp_tensor)
        if value is None:
            return "the zero point is not a build-time constant"
        if list(value.shape) != blocks or value.dtype != data.dtype:
            return f"zero point {value.dtype} {list(value.shape)} does not match the data"
        zp = value.astype(np.int32)
    keep = np.arange(data.shape[axis])
    output_dtype = int(node.attrs.get("output_dtype", 0))
    dtype = helper.tensor_dtype_to_np_dtype(output_dtype) if output_dtype else scales.dtype
    return {
        "q": data.astype(np.int32),
        "scales": scales,
        "zp": None,
        "zero": np.take(np.repeat(zp, block, axis=axis), keep, axis=axis),
        "bits": bits,
        "block": block,
        "axis": axis,
        "dtype": dtype,
    }


PASS = DequantizeNBits
