"""undilate-pool: a pool with dilations → an explicit pad, a strided Slice and an undilated pool.

TensorRT's pooling takes no dilation ("This version of TensorRT does not support dilations
other than 1"); PyTorch's `MaxPool{1,2,3}d(dilation=d)` exports one. A dilated window reads
every d-th element: out[i] = max_j xp[i·s + j·d] (xp: the input padded). Where the stride is a
multiple of the dilation (s = s'·d, the common case: stride = dilation), those elements all lie
on the grid of multiples of d.

Before → After::

    y = MaxPool<kernel k, strides s, dilations d, pads (b, e)>(x)
        → xp = Pad(x, (b, e'), -inf)                 (e' ≥ e: room for the last window)
          g  = Slice(xp, 0, end, steps d)            (every d-th element)
          y  = MaxPool<kernel k, strides s'>(g)      (the same windows, contiguous now)

Otherwise every kernel offset is a Slice with steps s and the result their Max (kept to small
kernels: at most `MAX_OFFSETS` slices). AveragePool (opset 19 has dilations) is rewritten the
same way where padding cannot change a count: no pads, or pads counted (`count_include_pad=1`,
then the pad value is 0).

Skips (reported): spatial dims that are not static (the sizes of the slices come from them);
a declared Indices output; `auto_pad` other than NOTSET; an AveragePool whose pads are excluded
from its count; a stride not a multiple of the dilation with a kernel of more than
`MAX_OFFSETS` elements; opset below 11 (Pad and Slice take their sizes as inputs from 11); a
dilated window wider than the padded input (ONNX's shape inference and runtimes disagree on
the size of such an output); a MaxPool window whose taps all fall in the padding (its value
is the lowest float in onnxruntime, -inf in the undilated form); an output size that ONNX's
shape inference gives otherwise than the pool computes (dilated ceil_mode windows before
opset 19).
"""

from __future__ import annotations

import itertools
import math

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import Match, PassContext, RewritePass, detach
from trtforge.analyzer.rewrite.graphutil import anchor
from trtforge.analyzer.rewrite.passes._ml_emit import Emit

np = lazy_import("numpy")
gs = lazy_import("onnx_graphsurgeon")

#: the most kernel offsets rewritten as one Slice each (stride not a multiple of the dilation).
MAX_OFFSETS = 64


def _ints(node: gs.Node, name: str, n: int, default: int) -> list[int]:
    value = node.attrs.get(name)
    return [int(v) for v in value] if value else [default] * n


def _window(node: gs.Node, n: int) -> tuple[list[int], list[int], list[int], list[int]]:
    """(kernel, strides, dilations, pads) of a pool with `n` spatial dims, defaults filled."""
    return (
        _ints(node, "kernel_shape", n, 1),
        _ints(node, "strides", n, 1),
        _ints(node, "dilations", n, 1),
        _ints(node, "pads", 2 * n, 0),
    )


def _output_length(length, k, s, d, begin, end, ceil) -> int:
    """ONNX's output size of one spatial dim (with ceil_mode's rule that the last window
    starts inside the input or its leading pad)."""
    span = length + begin + end - d * (k - 1) - 1
    out = (math.ceil(span / s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= length + begin:
        out -= 1
    return out


def _extent(node: gs.Node, shape: list[int]) -> tuple[list[int], list[int]]:
    """Output sizes, and the padded extent the windows read ((L_out - 1)·s + (k - 1)·d + 1),
    per spatial dim."""
    n = len(shape) - 2
    k, s, d, pads = _window(node, n)
    ceil = bool(int(node.attrs.get("ceil_mode", 0)))
    lengths = [
        _output_length(shape[2 + i], k[i], s[i], d[i], pads[i], pads[n + i], ceil) for i in range(n)
    ]
    return lengths, [(lengths[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1 for i in range(n)]


def _window_in_padding(node: gs.Node, shape: list[int], lengths: list[int]) -> int | None:
    """The first spatial axis on which some window's taps all fall in the padding, else None.

    onnxruntime gives such a MaxPool window the lowest finite value; the undilated form pads
    with -inf (so that a real -inf input stays -inf), and gives -inf there."""
    n = len(shape) - 2
    k, s, d, pads = _window(node, n)
    for i in range(n):  # `lengths`: the output sizes (`_extent`)
        for o in range(lengths[i]):
            first = o * s[i] - pads[i]
            if not any(0 <= first + j * d[i] < shape[2 + i] for j in range(k[i])):
                return i
    return None


def _end_pads(node: gs.Node, shape: list[int]) -> list[int]:
    """The end padding the windows need, per spatial dim."""
    n = len(shape) - 2
    pads = _ints(node, "pads", 2 * n, 0)
    _, need = _extent(node, shape)
    return [max(0, need[i] - shape[2 + i] - pads[i]) for i in range(n)]


class UndilatePool(RewritePass):
    """MaxPool/AveragePool with dilations → Pad + strided Slice + pool (or Slices + Max)."""

    id = "undilate-pool"
    summary = "pools with dilations → Pad + strided Slice + undilated pool (TensorRT has none)"
    order = 16

    def find(self, ctx: PassContext):
        for node in list(ctx.graph.nodes):
            if node.op not in ("MaxPool", "AveragePool") or (node.domain or "") != "":
                continue
            dilations = node.attrs.get("dilations")
            if dilations and any(int(d) != 1 for d in dilations):
                yield Match(anchor=anchor(node), nodes=[node])

    def check(self, match: Match, ctx: PassContext) -> str | None:
        node = match.nodes[0]
        x = node.inputs[0]
        if ctx.opset < 11:
            return f"opset {ctx.opset}: Pad/Slice take sizes as inputs from opset 11"
        if len(node.outputs) > 1 and node.outputs[1].name:
            return "declares the Indices output (argmax positions are not rebuilt)"
        if node.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", b"NOTSET"):
            return f"auto_pad {node.attrs['auto_pad']} (explicit pads only)"
        shape = x.shape
        if shape is None or len(shape) < 3 or not all(isinstance(v, int) for v in shape[2:]):
            return f"the spatial dims of '{x.name}' are not static ({shape})"
        if x.dtype is not None and np.dtype(x.dtype).kind != "f":
            return f"input '{x.name}' is not a float tensor"
        n = len(shape) - 2
        k, s, d, pads = _window(node, n)
        if (
            node.op == "AveragePool"
            and any(pads)
            and not int(node.attrs.get("count_include_pad", 0))
        ):
            return "AveragePool with pads excluded from its count (count_include_pad=0)"
        if any(si % di for si, di in zip(s, d, strict=True)) and math.prod(k) > MAX_OFFSETS:
            return (
                f"strides {s} are not multiples of dilations {d} and the kernel {k} has more "
                f"than {MAX_OFFSETS} offsets"
            )
        for i, (size, ki, di) in enumerate(zip(shape[2:], k, d, strict=True)):
            if size + pads[i] + pads[n + i] < (ki - 1) * di + 1:
                return (
                    f"the dilated window ({(ki - 1) * di + 1}) is wider than the padded input "
                    f"({size + pads[i] + pads[n + i]}) on spatial axis {i}"
                )
        lengths, _ = _extent(node, shape)
        declared = node.outputs[0].shape
        if declared is not None and len(declared) == len(shape):
            for i, (length, dim) in enumerate(zip(lengths, declared[2:], strict=True)):
                if isinstance(dim, int) and dim != length:
                    return (
                        f"ONNX's shape inference gives spatial axis {i} {dim} positions, the "
                        f"pool computes {length} (ceil_mode windows; the rewritten model "
                        "would fail onnx.checker)"
                    )
        if node.op == "MaxPool" and (axis := _window_in_padding(node, shape, lengths)) is not None:
            return f"a window on spatial axis {axis} reads only padding"
        if node.op == "AveragePool" and int(node.attrs.get("ceil_mode", 0)):
            ends = _end_pads(node, shape)
            if any(extra > pads[n + i] for i, extra in enumerate(ends)):
                return "AveragePool whose ceil_mode windows reach past its pads"
        return None

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        node = match.nodes[0]
        x, out = node.inputs[0], node.outputs[0]
        shape = list(x.shape)
        n = len(shape) - 2
        k, s, d, pads = _window(node, n)
        lengths, need = _extent(node, shape)
        end_pads = [max(0, need[i] - shape[2 + i] - pads[i]) for i in range(n)]
        e = Emit(ctx)
        dtype = np.dtype(x.dtype) if x.dtype is not None else np.dtype(np.float32)
        fill = np.array(-np.inf if node.op == "MaxPool" else 0, dtype)
        xp = x
        if any(pads[:n]) or any(end_pads):
            all_pads = np.array([0, 0, *pads[:n], 0, 0, *end_pads], np.int64)
            xp = e.op("Pad", x, e.const(all_pads, base="pads"), e.const(fill, base="pad_value"))
        detach(node)
        axes = e.const(np.arange(2, 2 + n, dtype=np.int64), base="axes")
        pool_attrs = {"kernel_shape": k}
        if node.op == "AveragePool":
            pool_attrs["count_include_pad"] = 1
        if all(si % di == 0 for si, di in zip(s, d, strict=True)):
            grid = e.op(
                "Slice",
                xp,
                e.const(np.zeros(n, np.int64), base="starts"),
                e.const(np.array(need, np.int64), base="ends"),
                axes,
                e.const(np.array(d, np.int64), base="steps"),
            )
            strides = [si // di for si, di in zip(s, d, strict=True)]
            e.op(node.op, grid, out=out, strides=strides, **pool_attrs)
            return
        pieces = []
        for offset in itertools.product(*(range(ki) for ki in k)):
            starts = [offset[i] * d[i] for i in range(n)]
            ends = [starts[i] + (lengths[i] - 1) * s[i] + 1 for i in range(n)]
            pieces.append(
                e.op(
                    "Slice",
                    xp,
                    e.const(np.array(starts, np.int64), base="starts"),
                    e.const(np.array(ends, np.int64), base="ends"),
                    axes,
                    e.const(np.array(s, np.int64), base="steps"),
                )
            )
        if node.op == "MaxPool":
            e.op("Max", *pieces, out=out)
        else:
            total = e.op("Sum", *pieces)
            e.op("Div", total, e.const(np.array(len(pieces), dtype), base="count"), out=out)


PASS = UndilatePool
