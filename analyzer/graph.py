"""A read-only view of an ONNX graph: what each tensor is, without loading any weights.

Rules ask three questions of a tensor: its element type, its shape (rank, static dims), and
whether it is a *build-time constant* (an initializer, a Constant, or computed only from those).
Types come from ONNX shape inference, run once per model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
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
    name = _DTYPE_NAMES.get(elem_type)
    return name if name is not None else f"TYPE{elem_type}"


#: element type number -> name (a dict: the protobuf enum's Name() costs ~1 µs a call).
_DTYPE_NAMES: dict[int, str] = {number: name for name, number in onnx.TensorProto.DataType.items()}


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
    """(dtype name, shape) of a type; memoized by the type's bytes (most tensors of a large
    model share a handful of types, and decoding dims costs ~1 µs each in Python)."""
    key = value_type.SerializeToString()
    known = _TYPE_CACHE.get(key)
    if known is None:
        known = _decode_type(value_type)
        if len(_TYPE_CACHE) < 100_000:
            _TYPE_CACHE[key] = known
    return known


_TYPE_CACHE: dict[bytes, tuple[str, tuple[Dim, ...] | None]] = {}


def _decode_type(value_type: onnx.TypeProto) -> tuple[str, tuple[Dim, ...] | None]:
    kind = value_type.WhichOneof("value")
    if kind in ("tensor_type", "sparse_tensor_type"):
        tensor = value_type.tensor_type if kind == "tensor_type" else value_type.sparse_tensor_type
        shape: tuple[Dim, ...] | None = None
        if tensor.HasField("shape"):
            shape = tuple(
                [
                    d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                    for d in tensor.shape.dim
                ]
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
        types: Mapping[str, onnx.TypeProto],
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
        graph_inputs, producers, outer = self._inputs, self.producers, self.outer
        for node in self.graph.node:  # graph.node is topologically sorted by the ONNX spec
            op = node.op_type
            if op in _NO_FOLD:
                continue
            if op != "Constant":
                folds = False  # true once a named input is seen and all so far are constant
                for name in node.input:
                    if not name:
                        continue
                    if name in constant:
                        folds = True
                    elif (
                        name in graph_inputs
                        or name in producers
                        or outer is None
                        or not outer.is_constant(name)
                    ):
                        folds = False
                        break
                    else:
                        folds = True
                if not folds:
                    continue
            constant.update(o for o in node.output if o)
        return constant

    @cached_property
    def _node_positions(self) -> tuple[list[onnx.NodeProto], dict[int, int]]:
        nodes = list(self.graph.node)  # holding the wrappers keeps their ids unique
        return nodes, {id(node): i for i, node in enumerate(nodes)}

    def node_index(self, node: onnx.NodeProto) -> int:
        """Position of `node` in this graph's node list (-1 if it is not one of them)."""
        nodes, positions = self._node_positions
        i = positions.get(id(node), -1)
        if i >= 0 and nodes[i] is node:
            return i
        for i, other in enumerate(self.graph.node):  # a wrapper made after the index
            if other is node:
                return i
        return -1

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


#: initializers larger than this (serialized bytes) are left out of shape inference.
MAX_INFERENCE_INITIALIZER_BYTES = 64 * 1024


def _is_heavy(tensor: onnx.TensorProto) -> bool:
    return (
        tensor.data_location == onnx.TensorProto.EXTERNAL
        or tensor.ByteSize() > MAX_INFERENCE_INITIALIZER_BYTES
    )


def _weightless(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` with its large or external initializers turned into typed graph inputs.

    Shape inference with data propagation reads initializer values: on an external tensor it
    allocates the tensor's full size (gigabytes for large models, though the data is never
    read), and on large embedded weights it copies them. Types and shapes of weights do not
    need their values, so inference runs on a copy without them. Returns `model` itself when
    it has no such initializer.
    """
    graph = model.graph
    heavy = [t for t in graph.initializer if _is_heavy(t)]
    if not heavy:
        return model
    light = onnx.ModelProto()
    for name in ("ir_version", "producer_name", "producer_version", "domain", "model_version"):
        setattr(light, name, getattr(model, name))
    light.opset_import.extend(model.opset_import)
    light.functions.extend(model.functions)
    target = light.graph
    target.name = graph.name
    target.node.extend(graph.node)
    target.input.extend(graph.input)
    target.output.extend(graph.output)
    target.value_info.extend(graph.value_info)
    target.sparse_initializer.extend(graph.sparse_initializer)
    heavy_names = {t.name for t in heavy}
    target.initializer.extend(t for t in graph.initializer if t.name not in heavy_names)
    declared = {vi.name for vi in graph.input}
    for tensor in heavy:
        if tensor.name not in declared:
            target.input.append(
                onnx.helper.make_tensor_value_info(tensor.name, tensor.data_type, tensor.dims)
            )
    return light


#: data propagation expands every rank-0/1 tensor into per-element shape data (about 200 bytes
#: per element in onnx 1.23, whatever the dtype): it only runs when none has more elements.
MAX_DATA_PROP_ELEMENTS = 1 << 16


#: ops whose attributes hold subgraphs (whose value_info shape inference fills too).
CONTROL_FLOW = frozenset({"If", "Loop", "Scan"})


class TypeTable(Mapping):
    """name -> TypeProto over inferred graphs, decoded on demand.

    Building a dict of every TypeProto costs ~1 µs per tensor in Python protobuf; indexing the
    names only is 4x cheaper, and most lookups come later, once per tensor a rule asks about.
    Precedence as in the model: value_info, then graph outputs, then graph inputs; the
    top-level graph before bodies of If/Loop/Scan.
    """

    def __init__(self) -> None:
        self._where: dict[str, tuple] = {}
        #: indices of the top-level nodes whose op is in SHAPE_CONSUMERS.
        self.shape_consumers: list[int] = []

    def add_graph(self, graph: onnx.GraphProto, top: bool = True) -> None:
        where = self._where
        for container in (graph.value_info, graph.output, graph.input):
            for i, name in enumerate([vi.name for vi in container]):
                if name not in where:
                    where[name] = (container, i)
        for index, op in enumerate([node.op_type for node in graph.node]):
            if top and op in SHAPE_CONSUMERS:
                self.shape_consumers.append(index)
            if op not in CONTROL_FLOW:
                continue
            for attr in graph.node[index].attribute:
                if attr.HasField("g"):
                    self.add_graph(attr.g, top=False)
                for sub in attr.graphs:
                    self.add_graph(sub, top=False)

    def __getitem__(self, name: str) -> onnx.TypeProto:
        container, i = self._where[name]
        return container[i].type

    def __contains__(self, name: object) -> bool:
        return name in self._where

    def __iter__(self):
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


def _collect_types(graph: onnx.GraphProto) -> TypeTable:
    table = TypeTable()
    table.add_graph(graph)
    return table


def _infer(model: onnx.ModelProto, data_prop: bool) -> onnx.ModelProto | None:
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=data_prop)
    except Exception as err:  # inference is best effort; the model may use unknown ops
        log.info("shape inference (data_prop=%s) failed: %s", data_prop, err)
        return None


#: ops whose output shape depends on the *values* of an input (a shape, axes, sizes, ...):
#: the only places where data propagation can add shape information.
SHAPE_CONSUMERS = frozenset(
    {
        "Reshape", "Expand", "Tile", "Slice", "Pad", "Resize", "Upsample", "Range",
        "ConstantOfShape", "OneHot", "TopK", "Squeeze", "Unsqueeze", "ReduceMean", "ReduceSum",
        "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
        "ReduceLogSumExp", "ReduceSumSquare", "Split", "CenterCropPad", "Col2Im", "DFT",
    }
)  # fmt: skip


def _needs_data_prop(graph: onnx.GraphProto, types: Mapping[str, onnx.TypeProto]) -> bool:
    """True when a node whose output shape depends on input values has an output with no
    rank or an unknown dim (no value, or a name shape inference made up: `unk__<n>`)."""
    consumers = getattr(types, "shape_consumers", None)
    nodes = (
        [graph.node[i] for i in consumers]
        if consumers is not None
        else [n for n in graph.node if n.op_type in SHAPE_CONSUMERS]
    )
    for node in nodes:
        for out in node.output:
            if not out:
                continue
            value = types.get(out)
            if value is None:
                return True
            if value.WhichOneof("value") != "tensor_type":
                continue
            tensor = value.tensor_type
            if not tensor.HasField("shape"):
                return True
            if any(
                not d.HasField("dim_value") and (not d.dim_param or d.dim_param.startswith("unk__"))
                for d in tensor.shape.dim
            ):
                return True
    return False


def _safe_for_data_prop(types: Mapping[str, onnx.TypeProto]) -> bool:
    """False when a rank-0/1 tensor is large enough to make data propagation blow up."""
    for value in types.values():
        if value.WhichOneof("value") != "tensor_type" or not value.tensor_type.HasField("shape"):
            continue
        dims = value.tensor_type.shape.dim
        if len(dims) == 1 and dims[0].dim_value > MAX_DATA_PROP_ELEMENTS:
            return False
    return True


def infer_types(model: onnx.ModelProto) -> Mapping[str, onnx.TypeProto]:
    """Runs ONNX shape inference (no weights needed) and returns every tensor's type.

    Inference runs on the model without its large weights (`_weightless`). A second pass with
    data propagation (which resolves shapes computed from Shape/Gather/Concat chains) runs only
    when the first leaves a shape-consuming node's output without a rank or with an unknown
    dim, and no large 1-D tensor would make it blow up. Failures of shape inference are not
    fatal: types then come from what the model states.
    """
    light = _weightless(model)
    inferred = _infer(light, data_prop=False)
    types = _collect_types((inferred or model).graph)
    if inferred is not None and _needs_data_prop(inferred.graph, types):
        if _safe_for_data_prop(types):
            propagated = _infer(light, data_prop=True)
            if propagated is not None:
                types = _collect_types(propagated.graph)
        else:
            log.info("data propagation skipped: the model has large 1-D tensors")
    return types
