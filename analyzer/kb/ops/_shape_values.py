"""The dims a Reshape gives its output where ONNX's inference cannot tell them, and TensorRT
can: a `-1` among symbolic dims.

TorchScript writes `x.view(x.shape[0], -1, 4, 4)` as `Reshape(x, Concat(Shape(x)[0], [-1, 4,
4]))`. With a symbolic batch, ONNX's inference keeps `batch` but cannot divide the element
count by it, so the `-1` stays unknown; TensorRT computes it from the same symbols (the
batch cancels: `batch·32·16 / (batch·4·4) = 32`) and builds a ConvTranspose reading it
(observed with the TensorRT-RTX 1.7.1 parser and builder on EoMT and BEiT segmentation
exports: "number of channels … must not be dynamic" is not raised).

`reshape_dims(graph, name)` evaluates the Reshape's shape input symbolically (constants,
Shape, Gather, Slice, Concat, Unsqueeze, Squeeze and Cast of them: what a shape computation
is made of), and resolves a `-1` when the element count's symbols cancel; a value it cannot
follow resolves nothing.
"""

from __future__ import annotations

from collections import Counter
from math import prod

import numpy as np

from trtforge.analyzer.graph import GraphView

#: producers followed up from a Reshape's shape input.
MAX_DEPTH = 16

#: a shape vector's entry: an int, or a symbol (a dim_param, ONNX's `unk__N` included, or
#: "INPUT:AXIS" for a dim without a name): equal symbols are equal sizes.
Entry = int | str


def reshape_dims(graph: GraphView, name: str) -> tuple[Entry, ...] | None:
    """The dims of `name`, the output of a Reshape, with a `-1` of its shape input computed
    as TensorRT computes it; None where `name` is not a Reshape's output, the shape or the
    data's dims cannot be followed, or the `-1` is not a whole number of the other dims."""
    node = graph.producer(name)
    if node is None or node.op_type != "Reshape" or len(node.input) < 2:
        return None
    data = graph.tensor(node.input[0]).shape
    target = _entries(graph, node.input[1], MAX_DEPTH)
    if data is None or target is None or any(d is None for d in data):
        return None
    allow_zero = any(a.name == "allowzero" and a.i for a in node.attribute)
    dims: list[Entry | None] = []
    for axis, entry in enumerate(target):
        if entry == 0 and not allow_zero:
            if axis >= len(data):
                return None
            entry = data[axis]
        dims.append(None if entry == -1 else entry)
    if dims.count(None) != 1 or any(isinstance(d, int) and d < 0 for d in dims):
        return None
    known = [d for d in dims if d is not None]
    missing = _quotient(list(data), known)
    if missing is None:
        return None
    return tuple(missing if d is None else d for d in dims)


def _quotient(numerator: list, denominator: list) -> int | None:
    """prod(numerator) / prod(denominator) where the symbols cancel and the numbers divide."""
    symbols = Counter(d for d in numerator if isinstance(d, str))
    symbols.subtract(Counter(d for d in denominator if isinstance(d, str)))
    if any(count != 0 for count in symbols.values()):
        return None
    top = prod(d for d in numerator if isinstance(d, int))
    bottom = prod(d for d in denominator if isinstance(d, int))
    if bottom <= 0 or top % bottom:
        return None
    return top // bottom


def _entries(graph: GraphView, name: str, depth: int) -> list[Entry] | None:
    """The values of 1-D (or scalar) INT32/INT64 tensor `name`, symbolically; None where a
    value is not a constant or a dim of a tensor whose shape inference gives."""
    if depth <= 0 or not name:
        return None
    value = graph.constant_value(name)
    if value is not None:
        if value.dtype.kind not in "iu" or value.ndim > 1:
            return None
        return [int(v) for v in np.atleast_1d(value)]
    node = graph.producer(name)
    if node is None:
        return None
    op, ins = node.op_type, list(node.input)
    attrs = {a.name: a for a in node.attribute}
    if op == "Shape":
        shape = graph.tensor(ins[0]).shape
        if shape is None:
            return None
        start = attrs["start"].i if "start" in attrs else 0
        end = attrs["end"].i if "end" in attrs else len(shape)
        dims = [d if d is not None else f"{ins[0]}:{axis}" for axis, d in enumerate(shape)]
        return dims[slice(start, end)]
    if op == "Cast":
        return _entries(graph, ins[0], depth - 1)
    if op == "Concat":
        if (attrs["axis"].i if "axis" in attrs else 0) not in (0, -1):
            return None
        out: list[Entry] = []
        for part in ins:
            entries = _entries(graph, part, depth - 1)
            if entries is None:
                return None
            out += entries
        return out
    if op == "Identity":
        return _entries(graph, ins[0], depth - 1)
    if op in ("Unsqueeze", "Squeeze"):  # a scalar made a 1-element vector, or back
        entries = _entries(graph, ins[0], depth - 1)
        return entries if entries is not None and len(entries) == 1 else None
    if op == "Gather":
        if (attrs["axis"].i if "axis" in attrs else 0) != 0 or len(ins) < 2:
            return None
        entries = _entries(graph, ins[0], depth - 1)
        index = graph.constant_value(ins[1])
        if entries is None or index is None or index.ndim > 1:
            return None
        picked = []
        for i in np.atleast_1d(index).tolist():
            i = int(i) + (len(entries) if int(i) < 0 else 0)
            if not 0 <= i < len(entries):
                return None
            picked.append(entries[i])
        return picked
    if op == "Slice" and len(ins) >= 3:
        entries = _entries(graph, ins[0], depth - 1)
        bounds = [graph.constant_value(n) if n else None for n in ins[1:5]]
        starts, ends = bounds[0], bounds[1]
        axes = bounds[2] if len(bounds) > 2 else None
        steps = bounds[3] if len(bounds) > 3 else None
        if entries is None or starts is None or ends is None or starts.size != 1:
            return None
        if axes is not None and int(axes.reshape(-1)[0]) not in (0, -1):
            return None
        step = 1 if steps is None else int(steps.reshape(-1)[0])
        if step != 1:
            return None
        return entries[slice(int(starts.reshape(-1)[0]), int(ends.reshape(-1)[0]))]
    return None
