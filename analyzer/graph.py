"""A read-only view of an ONNX graph: what each tensor is, without loading any weights.

Rules ask three questions of a tensor: its element type, its shape (rank, static dims), and
whether it is a *build-time constant* (an initializer, a Constant, or computed only from those).
Types come from ONNX shape inference, run once per model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import onnx
from onnx import numpy_helper

log = logging.getLogger("trtforge.graph")

#: ops whose outputs are not functions of their inputs alone.
NONDETERMINISTIC = frozenset(
    {
        "RandomNormal",
        "RandomNormalLike",
        "RandomUniform",
        "RandomUniformLike",
        "Multinomial",
        "Bernoulli",
    }
)
#: ops that never produce a build-time constant even from constant inputs.
_NO_FOLD = NONDETERMINISTIC | {"If", "Loop", "Scan"}

#: small constant tensors are decoded on demand; larger ones are never read.
MAX_DECODED_ELEMENTS = 4096


def dtype_name(elem_type: int | None) -> str:
    """`FLOAT`, `INT64`, ... for an ONNX element type (`UNDEFINED` when unknown)."""
    if not elem_type:
        return "UNDEFINED"
    try:
        return onnx.TensorProto.DataType.Name(elem_type)
    except ValueError:
        return f"TYPE{elem_type}"


Dim = int | str | None


@dataclass(frozen=True)
class TensorInfo:
    """What is known about one tensor at analysis time.

    Attributes:
        name: the tensor's name.
        dtype: the ONNX element type name (e.g. "FLOAT"), "UNDEFINED" when unknown,
            or "SEQUENCE"/"MAP"/"OPTIONAL" for non-tensor values.
        shape: dims (int, symbolic name, or None) or None when the rank is unknown.
        is_initializer: an initializer of this graph or an enclosing one.
        is_constant: a build-time constant (initializer, Constant, or folded from those).
        is_graph_input: an input of the top-level graph.
    """

    name: str
    dtype: str
    shape: tuple[Dim, ...] | None
    is_initializer: bool = False
    is_constant: bool = False
    is_graph_input: bool = False

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def static_shape(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) and d >= 0 for d in self.shape)


def _type_of(value_type: onnx.TypeProto) -> tuple[str, tuple[Dim, ...] | None]:
    kind = value_type.WhichOneof("value")
    if kind in ("tensor_type", "sparse_tensor_type"):
        tensor = getattr(value_type, kind)
        shape: tuple[Dim, ...] | None = None
        if tensor.HasField("shape"):
            shape = tuple(
                d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                for d in tensor.shape.dim
            )
        return dtype_name(tensor.elem_type), shape
    if kind == "sequence_type":
        return "SEQUENCE", None
    if kind == "map_type":
        return "MAP", None
    if kind == "optional_type":
        return "OPTIONAL", None
    return "UNDEFINED", None


class GraphView:
    """Tensors, producers and constness of one graph (and, for bodies, its enclosing graphs).

    Args:
        graph: the graph.
        types: name -> ValueInfo type, from shape inference over the whole model.
        outer: the enclosing graph's view, for If/Loop/Scan bodies.
        path: a display path for inner nodes (e.g. "loop_0/body").
    """

    def __init__(
        self,
        graph: onnx.GraphProto,
        types: dict[str, onnx.TypeProto],
        outer: GraphView | None = None,
        path: str = "",
    ) -> None:
        self.graph = graph
        self.outer = outer
        self.path = path
        self._types = types
        self._initializers = {t.name: t for t in graph.initializer}
        for sparse in graph.sparse_initializer:
            self._initializers[sparse.values.name] = sparse.values
        self._inputs = {vi.name: vi for vi in graph.input}
        self._outputs = {vi.name for vi in graph.output}
        self._info: dict[str, TensorInfo] = {}

    @cached_property
    def producers(self) -> dict[str, onnx.NodeProto]:
        return {out: node for node in self.graph.node for out in node.output if out}

    @cached_property
    def consumers(self) -> dict[str, list[onnx.NodeProto]]:
        result: dict[str, list[onnx.NodeProto]] = {}
        for node in self.graph.node:
            for name in node.input:
                if name:
                    result.setdefault(name, []).append(node)
        return result

    @cached_property
    def _constants(self) -> set[str]:
        """Names computed at build time: initializers, Constant outputs, and folds of them."""
        constant: set[str] = set(self._initializers)

        def known(name: str) -> bool:
            if name in constant:
                return True
            if name in self._inputs or name in self.producers:
                return False
            return self.outer.is_constant(name) if self.outer else False

        for node in self.graph.node:  # graph.node is topologically sorted by the ONNX spec
            if node.op_type in _NO_FOLD:
                continue
            inputs = [n for n in node.input if n]
            if node.op_type == "Constant" or (inputs and all(known(n) for n in inputs)):
                constant.update(o for o in node.output if o)
        return constant

    def is_graph_output(self, name: str) -> bool:
        return name in self._outputs

    def is_initializer(self, name: str) -> bool:
        if name in self._initializers:
            return True
        if name in self._inputs or name in self.producers:
            return False
        return self.outer.is_initializer(name) if self.outer else False

    def is_constant(self, name: str) -> bool:
        if name in self._initializers:
            return True
        if name in self._inputs:
            return False
        if name in self.producers:
            return name in self._constants
        return self.outer.is_constant(name) if self.outer else False

    def tensor(self, name: str) -> TensorInfo:
        """Everything known about tensor `name`."""
        info = self._info.get(name)
        if info is not None:
            return info
        dtype, shape = "UNDEFINED", None
        init = self._initializers.get(name)
        if init is not None:
            dtype, shape = dtype_name(init.data_type), tuple(init.dims)
        elif name in self._inputs:
            dtype, shape = _type_of(self._inputs[name].type)
        elif name in self._types:
            dtype, shape = _type_of(self._types[name])
        elif self.outer is not None and name not in self.producers:
            return self.outer.tensor(name)
        info = TensorInfo(
            name=name,
            dtype=dtype,
            shape=shape,
            is_initializer=init is not None or self.is_initializer(name),
            is_constant=self.is_constant(name),
            is_graph_input=self.outer is None and name in self._inputs and init is None,
        )
        self._info[name] = info
        return info

    def constant_value(self, name: str) -> np.ndarray | None:
        """The value of a small constant embedded in the model, else None.

        Never reads external data and never decodes tensors larger than
        MAX_DECODED_ELEMENTS elements.
        """
        tensor = self._initializers.get(name)
        if tensor is None:
            node = self.producers.get(name)
            if node is not None and node.op_type == "Constant":
                return _constant_node_value(node)
            if node is None and self.outer is not None and name not in self._inputs:
                return self.outer.constant_value(name)
            return None
        return _decode(tensor)

    def nodes(self) -> Iterator[tuple[int, onnx.NodeProto]]:
        return enumerate(self.graph.node)


def _decode(tensor: onnx.TensorProto) -> np.ndarray | None:
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        return None
    count = int(np.prod(tensor.dims)) if tensor.dims else 1
    if count > MAX_DECODED_ELEMENTS:
        return None
    try:
        return numpy_helper.to_array(tensor)
    except Exception:  # damaged or exotic tensor: treat as unknown
        return None


def _constant_node_value(node: onnx.NodeProto) -> np.ndarray | None:
    for attr in node.attribute:
        if attr.name == "value" and attr.HasField("t"):
            return _decode(attr.t)
        if attr.name == "value_float":
            return np.array(attr.f, dtype=np.float32)
        if attr.name == "value_int":
            return np.array(attr.i, dtype=np.int64)
        if attr.name == "value_floats":
            return np.array(list(attr.floats), dtype=np.float32)
        if attr.name == "value_ints":
            return np.array(list(attr.ints), dtype=np.int64)
    return None


def infer_types(model: onnx.ModelProto) -> dict[str, onnx.TypeProto]:
    """Runs ONNX shape inference (no weights needed) and returns every tensor's type.

    Failures of shape inference are not fatal: types then come from what the model states.
    """
    inferred = model
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as err:  # inference is best effort; the model may use unknown ops
        log.info("shape inference failed (%s); using the model's own value_info", err)
    types: dict[str, onnx.TypeProto] = {}

    def collect(graph: onnx.GraphProto) -> None:
        for vi in list(graph.value_info) + list(graph.output) + list(graph.input):
            if vi.type.WhichOneof("value") is not None:
                types.setdefault(vi.name, vi.type)
        for node in graph.node:
            for attr in node.attribute:
                if attr.HasField("g"):
                    collect(attr.g)
                for sub in attr.graphs:
                    collect(sub)

    collect(inferred.graph)
    return types
