"""Serialized ONNX graphs read in bulk, through message types of our own.

A 100,000-node model read through onnx's own classes costs a Python-level visit of every field
of every node and value: ~0.2 µs each, seconds in all. The wire format of a submessage is a
length-delimited byte string, so message types of our own with ONNX's field numbers read what
a check needs and skip the rest, in C:

* **shallow** types (`shallow_graph`, `node_fields`) declare submessages we do not decode as
  `bytes` — a value's `TypeProto`, a node's `AttributeProto`s — and leave out every other
  field: the type table gets each serialized type as it is, the static backend each node's
  inputs, outputs and attributes with one slice per repeated field;
* **merged** types declare a repeated message field (a graph's nodes, its value_info entries)
  as *singular*: protobuf merges the occurrences of a singular message field into one
  message, whose repeated fields then hold the values of every occurrence in order, so one
  parse gives every node's op_type (`node_scalars`, `merged_columns`), or every tensor's
  `data_location` (`data_locations`), as flat lists. A flat list lines up with the nodes only
  when each node has the field exactly once; callers check the lengths and otherwise read
  node by node;
* the **types** file decodes the one thing of a TypeProto that is read without onnx: a
  tensor's dims (`decoded_tensor_dims`, for `_speculation`).

Field numbers are those of onnx.proto (ModelProto: graph 7; GraphProto: node 1, initializer 5,
input 11, output 12, value_info 13, sparse_initializer 15; NodeProto: input 1, output 2,
name 3, op_type 4, attribute 5, domain 7; ValueInfoProto: name 1, type 2; AttributeProto: t 5,
g 6, tensors 10, graphs 11; TensorProto: data_location 14; SparseTensorProto: values 1;
TypeProto: tensor_type 1; its Tensor: elem_type 1, shape 2; TensorShapeProto: dim 1; its
Dimension: dim_value 1, dim_param 2). The syntax is proto2, as there, so text that is not
UTF-8 comes back as bytes in both.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

try:  # the native reader of node fields (csrc/analyzer/wire.cpp), when it was built
    from trtforge.analyzer import _wire
except ImportError:  # pragma: no cover - a build without a C++ compiler
    _wire = None

_PACKAGE = "trtforge.shallow"

_FIELD = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "string": _FIELD.TYPE_STRING,
    "bytes": _FIELD.TYPE_BYTES,
    "int32": _FIELD.TYPE_INT32,
    "int64": _FIELD.TYPE_INT64,
}

#: (field name, number, type: a scalar of _SCALARS or a message of the same file, repeated)
Fields = tuple[tuple[str, int, str, bool], ...]

#: message name -> fields, per file
_FILES: dict[str, dict[str, Fields]] = {
    "shallow": {
        "NamedType": (("name", 1, "string", False), ("type", 2, "bytes", False)),
        "Node": (("op_type", 4, "string", False),),
        "Graph": (
            ("node", 1, "Node", True),
            ("input", 11, "NamedType", True),
            ("output", 12, "NamedType", True),
            ("value_info", 13, "NamedType", True),
        ),
        "Model": (("graph", 7, "Graph", False),),
        "NodeFields": (
            ("input", 1, "string", True),
            ("output", 2, "string", True),
            ("name", 3, "string", False),
            ("op_type", 4, "string", False),
            ("attribute", 5, "bytes", True),
            ("domain", 7, "string", False),
        ),
        "GraphNodes": (("node", 1, "NodeFields", True),),
        "WeightsGraph": (("initializer", 5, "bytes", True),),
        "Weights": (("graph", 7, "WeightsGraph", False),),
    },
    "types": {  # TypeProto: tensor_type 1; Tensor: elem_type 1, shape 2; Shape: dim 1
        "Dim": (("dim_value", 1, "int64", False), ("dim_param", 2, "string", False)),
        "Shape": (("dim", 1, "Dim", True),),
        "Tensor": (("elem_type", 1, "int32", False), ("shape", 2, "Shape", False)),
        "Type": (("tensor_type", 1, "Tensor", False),),
    },
    "merged": {
        "MergedNode": (
            ("name", 3, "string", True),
            ("op_type", 4, "string", True),
            ("domain", 7, "string", True),
        ),
        "MergedValues": (("name", 1, "string", True), ("type", 2, "bytes", True)),
        "MergedGraph": (
            ("node", 1, "MergedNode", False),
            ("value_info", 13, "MergedValues", False),
        ),
        "MergedModel": (("graph", 7, "MergedGraph", False),),
    },
    "locations": {  # the tensors `loading.iter_graph_tensors` visits, bodies included
        "LocTensor": (("data_location", 14, "int32", True),),
        "LocSparse": (("values", 1, "LocTensor", False),),
        "LocAttribute": (
            ("t", 5, "LocTensor", False),
            ("g", 6, "LocGraph", False),
            ("tensors", 10, "LocTensor", False),
            ("graphs", 11, "LocGraph", False),
        ),
        "LocNode": (("attribute", 5, "LocAttribute", False),),
        "LocGraph": (
            ("node", 1, "LocNode", False),
            ("initializer", 5, "LocTensor", False),
            ("sparse_initializer", 15, "LocSparse", False),
        ),
        "LocModel": (("graph", 7, "LocGraph", False),),
    },
}


@functools.cache
def _class(file: str, message: str):
    """The message class `message` of `_FILES[file]` (each file built once, in its own pool)."""
    return _pool(file)(message)


@functools.cache
def _pool(file: str):
    proto = descriptor_pb2.FileDescriptorProto(
        name=f"trtforge_{file}.proto", package=_PACKAGE, syntax="proto2"
    )
    for name, fields in _FILES[file].items():
        message = proto.message_type.add(name=name)
        for field, number, kind, repeated in fields:
            label = _FIELD.LABEL_REPEATED if repeated else _FIELD.LABEL_OPTIONAL
            if kind in _SCALARS:
                message.field.add(name=field, number=number, type=_SCALARS[kind], label=label)
            else:
                message.field.add(
                    name=field,
                    number=number,
                    type=_FIELD.TYPE_MESSAGE,
                    type_name=f".{_PACKAGE}.{kind}",
                    label=label,
                )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return lambda name: message_factory.GetMessageClass(
        pool.FindMessageTypeByName(f"{_PACKAGE}.{name}")
    )


# -- shallow ------------------------------------------------------------------------------
def shallow_graph(serialized: bytes):
    """The graph `serialized` as a message with `node[i].op_type` and `value_info`, `output`,
    `input` entries of `.name` and `.type` (the serialized TypeProto, bytes)."""
    return _class("shallow", "Graph").FromString(serialized)


def shallow_model_graph(serialized_model: bytes):
    """`shallow_graph` of the graph of a serialized ModelProto."""
    return _class("shallow", "Model").FromString(serialized_model).graph


def node_fields(serialized: bytes):
    """The nodes of the graph `serialized`, each with `.name`, `.op_type`, `.domain`,
    `.input`, `.output` and `.attribute` (each AttributeProto serialized, bytes)."""
    return _class("shallow", "GraphNodes").FromString(serialized).node


def node_columns(serialized_graph: bytes, count: int) -> tuple[list, ...]:
    """(names, op_types, domains, inputs, outputs, attributes) of the `count` nodes of the
    graph `serialized_graph`, a list each, one entry per node (inputs and outputs: lists of
    names; attributes: lists of serialized AttributeProtos). Read by the native reader
    (`trtforge.analyzer._wire`, csrc/analyzer/wire.cpp) when it is built and understands the
    bytes, else through these message types (the same lists, ~6 times slower)."""
    if _wire is not None:
        columns = _wire.node_columns(serialized_graph)
        if columns is not None and len(columns[0]) == count:
            return columns
    source = node_fields(serialized_graph)
    names, ops, domains = node_scalars(serialized_graph, count)
    if names is not None and ops is not None and domains is not None:
        rows = [(n.input[:], n.output[:], n.attribute[:]) for n in source]
        return names, ops, domains, *map(list, zip(*rows, strict=True))
    rows = [(n.name, n.op_type, n.domain, n.input[:], n.output[:], n.attribute[:]) for n in source]
    return tuple(map(list, zip(*rows, strict=True)))


def graph_field(serialized_model) -> memoryview | None:
    """The payload of a serialized ModelProto's graph field (7), a view into the bytes: the
    graph as the file holds it. None when the model has no graph field or several (protobuf
    merges those), or the top-level fields are malformed."""
    view = memoryview(serialized_model)
    at, end, found = 0, len(view), None
    while at < end:
        tag, at = _varint_at(view, at)
        if tag is None:
            return None
        wire = tag & 7
        if wire == 0:
            _, at = _varint_at(view, at)
            if at is None:
                return None
        elif wire in (1, 5):
            at += 8 if wire == 1 else 4
        elif wire == 2:
            size, at = _varint_at(view, at)
            if size is None or at + size > end:
                return None
            if tag >> 3 == 7:
                if found is not None:
                    return None
                found = view[at : at + size]
            at += size
        else:
            return None
    return found if at == end else None


def _varint_at(view: memoryview, at: int) -> tuple[int | None, int | None]:
    """(the varint at `at`, the position after it), or (None, None) when there is none."""
    value = shift = 0
    while at < len(view) and shift < 64:
        byte = view[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
    return None, None


# -- merged -------------------------------------------------------------------------------
def node_scalars(serialized_graph: bytes, count: int) -> tuple[list | None, list | None, list]:
    """(names, op_types, domains) of the `count` nodes of the graph `serialized_graph`, each
    read as one flat list where it lines up with the nodes: a list as long as the nodes
    (every node has the field once: serialized messages write each set field once), or, for
    domains, empty (no node sets one: all ""); None where it does not, for the caller to read
    node by node."""
    merged = _class("merged", "MergedGraph").FromString(serialized_graph).node
    names, ops, domains = merged.name[:], merged.op_type[:], merged.domain[:]
    if not domains:
        domains = [""] * count
    return (
        names if len(names) == count else None,
        ops if len(ops) == count else None,
        domains if len(domains) == count else None,
    )


def initializer_bytes(serialized_model: bytes) -> list[bytes]:
    """Each initializer of the serialized ModelProto's graph, serialized."""
    return _class("shallow", "Weights").FromString(serialized_model).graph.initializer[:]


def decoded_tensor_dims(serialized_type: bytes) -> list[int] | None:
    """The dim_values of a serialized TypeProto's tensor shape (0 for a dim without one);
    None when it is not a tensor type with a shape."""
    value = _class("types", "Type").FromString(serialized_type)
    if not value.HasField("tensor_type") or not value.tensor_type.HasField("shape"):
        return None
    return [dim.dim_value for dim in value.tensor_type.shape.dim]


def merged_columns(serialized: bytes, shallow, model: bool = False):
    """(op_type of every node, name of every value_info entry, serialized type of every
    value_info entry) of the graph `serialized` (a ModelProto's when `model`), whose
    `shallow_graph` is `shallow`: flat lists when each node has exactly one op_type and each
    entry one name and one type (the lists are then as long as the nodes and entries
    `shallow` counts), else read entry by entry from `shallow`."""
    if model:
        merged = _class("merged", "MergedModel").FromString(serialized).graph
    else:
        merged = _class("merged", "MergedGraph").FromString(serialized)
    ops = merged.node.op_type[:]
    if len(ops) != len(shallow.node):
        ops = [node.op_type for node in shallow.node]
    names, types = merged.value_info.name[:], merged.value_info.type[:]
    if not len(names) == len(types) == len(shallow.value_info):
        names = [value.name for value in shallow.value_info]
        types = [value.type for value in shallow.value_info]
    return ops, names, types


def data_locations(serialized_model: bytes) -> set[int]:
    """Every value of `data_location` among the tensors of the serialized ModelProto that
    `loading.iter_graph_tensors` would visit (initializers, sparse initializers' values,
    tensor attributes, in bodies too; `data_location` declared repeated keeps a value written
    twice): a model none of whose tensors is external has no 1 (`TensorProto.EXTERNAL`) here.
    """
    found: set[int] = set()
    graphs = [_class("locations", "LocModel").FromString(serialized_model).graph]
    while graphs:
        graph = graphs.pop()
        attribute = graph.node.attribute
        found.update(graph.initializer.data_location)
        found.update(graph.sparse_initializer.values.data_location)
        found.update(attribute.t.data_location)
        found.update(attribute.tensors.data_location)
        for body in (attribute.g, attribute.graphs):
            if body.ByteSize():
                graphs.append(body)
    return found


@dataclass(frozen=True)
class InitializerHeads:
    """The name, element type and dims of each initializer of a graph, in order, as read
    from its file (`_wire.initializer_heads`): `kinds[i]` is the index in `table` of
    initializer i's (element type, dims)."""

    names: list[str]
    kinds: list[int]
    table: list[tuple[int, tuple[int, ...]]]
