"""decompose-dft: a DFT of a fixed length → one MatMul with precomputed cos/sin weights.

TensorRT's parser has no DFT importer (knowledge base: `signal.py`); PyTorch's `torch.fft.*`
exports one (FNet's token mixing, FFT convolutions, spectral features). A DFT of a length N
known at build time is a matrix product: X[k] = Σₙ x[n]·e^(∓2πi·kn/N) (÷N for the inverse).
Real and imaginary parts are separate float tensors, so one MatMul against [N, 2K] weights
whose columns interleave cos and ∓sin gives the K output frequencies already laid out as
ONNX's [..., K, 2] (K = N, or N/2+1 with `onesided`).

Before → After (signal on `axis`, c = 1 real or 2 complex)::

    y = DFT<axis, inverse, onesided>(x[..., L, ..., c], dft_length)
        → re = Gather(x, 0, axis=-1)              (im = Gather(x, 1, axis=-1) when complex)
          re = Transpose(re) (signal last) → Slice / Pad to N = dft_length
          y  = MatMul(re, Wre) [+ MatMul(im, Wim)]  (Wre/Wim [N, 2K]: cos, ∓sin interleaved)
          y  = Reshape(y, [..., K, 2]) → Transpose (frequencies back on `axis`)

The weights are computed in float64 (angles reduced modulo N) and stored in the input's float
type; results match onnxruntime's FFT to float rounding of an N-term sum.

Skips (reported): a signal length that is not static and no constant `dft_length`; a runtime
`axis` (opset 20 input) or `dft_length`; `onesided` with a complex input or with `inverse`
(Hermitian input, not expanded); weights of more than `MAX_WEIGHTS` elements; integer inputs.
"""

from __future__ import annotations

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import Match, PassContext, RewritePass, detach
from trtforge.analyzer.rewrite.graphutil import anchor, const_value
from trtforge.analyzer.rewrite.passes._ml_emit import Emit

np = lazy_import("numpy")
gs = lazy_import("onnx_graphsurgeon")

#: the largest weight matrix written (N·2K elements; 4M floats = 16 MB, N = 2048 full).
MAX_WEIGHTS = 1 << 22


def _optional(node: gs.Node, index: int):
    if len(node.inputs) > index and node.inputs[index].name:
        return node.inputs[index]
    return None


def _params(node: gs.Node, ctx: PassContext) -> dict | str:
    """The DFT's axis, lengths and flags, or why it cannot be rewritten."""
    x = node.inputs[0]
    shape = x.shape
    if shape is None or not isinstance(shape[-1], int) or shape[-1] not in (1, 2):
        return f"input '{x.name}': the last dim (1 real, 2 complex) is not known ({shape})"
    if x.dtype is not None and np.dtype(x.dtype).kind != "f":
        return f"input '{x.name}' is not a float tensor"
    rank = len(shape)
    if ctx.opset >= 20:
        axis_input = _optional(node, 2)
        axis = -2
        if axis_input is not None:
            value = const_value(axis_input)
            if value is None:
                return "the axis is a runtime input"
            axis = int(np.asarray(value).reshape(-1)[0])
    else:
        axis = int(node.attrs.get("axis", 1))
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis <= rank - 2:
        return f"axis {axis} is out of range for a rank-{rank} input"
    length = shape[axis]
    n = None
    dft_length = _optional(node, 1)
    if dft_length is not None:
        value = const_value(dft_length)
        if value is None:
            return "dft_length is a runtime input"
        n = int(np.asarray(value).reshape(-1)[0])
    if not isinstance(length, int):
        if n is None:
            return f"the signal length (dim {axis} of '{x.name}') is not static"
        return f"the signal length (dim {axis} of '{x.name}') is not static (Slice/Pad to N)"
    n = length if n is None else n
    inverse = bool(int(node.attrs.get("inverse", 0)))
    onesided = bool(int(node.attrs.get("onesided", 0)))
    if onesided and (shape[-1] == 2 or inverse):
        return "onesided with a complex input or with inverse"
    k = n // 2 + 1 if onesided else n
    if n < 1:
        return f"the DFT length {n} is not positive (the node cannot run: onnxruntime refuses it)"
    if n * 2 * k > MAX_WEIGHTS:
        return f"a length of {n} needs {n * 2 * k} weights (more than {MAX_WEIGHTS})"
    return {
        "axis": axis,
        "rank": rank,
        "length": length,
        "n": n,
        "k": k,
        "inverse": inverse,
        "complex": shape[-1] == 2,
    }


def _weights(n: int, k: int, inverse: bool, dtype) -> tuple:
    """[N, 2K] weights for the real and for the imaginary part of the input."""
    idx = np.outer(np.arange(n, dtype=np.int64), np.arange(k, dtype=np.int64)) % n
    theta = 2.0 * np.pi * idx / n
    cos, sin = np.cos(theta), np.sin(theta)
    sign = 1.0 if inverse else -1.0
    scale = 1.0 / n if inverse else 1.0
    w_re = np.empty((n, 2 * k))
    w_im = np.empty((n, 2 * k))
    # (a + ib)(cos + i·sign·sin) = a·cos - sign·b·sin + i(sign·a·sin + b·cos)
    w_re[:, 0::2], w_re[:, 1::2] = cos, sign * sin
    w_im[:, 0::2], w_im[:, 1::2] = -sign * sin, cos
    return (w_re * scale).astype(dtype), (w_im * scale).astype(dtype)


class DecomposeDft(RewritePass):
    """DFT of a build-time length → MatMul with precomputed cos/sin weights."""

    id = "decompose-dft"
    summary = "DFT of a fixed length → MatMul with precomputed cos/sin weights (no TensorRT DFT)"
    order = 18
    removes = frozenset({("", "DFT")})

    def find(self, ctx: PassContext):
        for node in list(ctx.graph.nodes):
            if node.op == "DFT" and (node.domain or "") in ("", "ai.onnx"):
                yield Match(anchor=anchor(node), nodes=[node])

    def check(self, match: Match, ctx: PassContext) -> str | None:
        params = _params(match.nodes[0], ctx)
        return params if isinstance(params, str) else None

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        node = match.nodes[0]
        p = _params(node, ctx)
        x, out = node.inputs[0], node.outputs[0]
        dtype = np.dtype(x.dtype) if x.dtype is not None else np.dtype(np.float32)
        e = Emit(ctx)
        axis, rank, n, k = p["axis"], p["rank"], p["n"], p["k"]
        perm = [i for i in range(rank - 1) if i != axis] + [axis]

        def part(index: int) -> gs.Tensor:
            t = e.op("Gather", x, e.const(np.array(index, np.int64), base="part"), axis=-1)
            if perm != list(range(rank - 1)):
                t = e.op("Transpose", t, perm=perm)
            if n < p["length"]:
                t = e.op(
                    "Slice",
                    t,
                    e.const(np.array([0], np.int64), base="starts"),
                    e.const(np.array([n], np.int64), base="ends"),
                    e.const(np.array([-1], np.int64), base="axes"),
                )
            elif n > p["length"]:
                pads = np.zeros(2 * (rank - 1), np.int64)
                pads[-1] = n - p["length"]
                t = e.op("Pad", t, e.const(pads, base="pads"))
            return t

        detach(node)
        w_re, w_im = _weights(n, k, p["inverse"], dtype)
        y = e.op("MatMul", part(0), e.const(w_re, base="dft_re"))
        if p["complex"]:
            y = e.op("Add", y, e.op("MatMul", part(1), e.const(w_im, base="dft_im")))
        shape = np.array([0] * (rank - 2) + [k, 2], np.int64)
        if perm == list(range(rank - 1)):
            e.op("Reshape", y, e.const(shape, base="shape"), out=out)
            return
        y = e.op("Reshape", y, e.const(shape, base="shape"))
        back = [perm.index(i) for i in range(rank - 1)] + [rank - 1]
        e.op("Transpose", y, perm=back, out=out)


PASS = DecomposeDft
