"""A serialized GraphProto's typed names and node op types, read without decoding the rest.

Building the type table of a 100,000-node model means visiting 100,000 ValueInfoProtos; with
onnx's own classes each visit makes a TypeProto wrapper and serializes it again (~0.7 µs).
The wire format of a submessage is a length-delimited byte string, so a message type of our
own with GraphProto's field numbers, declaring ValueInfoProto's `type` as `bytes`, is handed
each serialized TypeProto as it is, and skips decoding nodes beyond their op_type. Field
numbers are those of onnx.proto (GraphProto: node 1, input 11, output 12, value_info 13;
ValueInfoProto: name 1, type 2; NodeProto: input 1, output 2, name 3, op_type 4, attribute 5,
domain 7); the syntax is proto2, as there, so text that is not UTF-8 comes back as bytes in both.

A second message type (`node_fields`) reads every node's name, op_type, domain, inputs,
outputs and serialized attributes the same way: one parse and one slice per repeated field
instead of a Python-level visit of each field of each onnx `NodeProto` (a 100,000-node graph:
~0.15 s instead of ~0.5 s).
"""

from __future__ import annotations

import functools

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_PACKAGE = "trtforge.shallow"


@functools.cache
def _graph_class():
    field = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="trtforge_shallow_graph.proto", package=_PACKAGE, syntax="proto2"
    )
    named = file.message_type.add(name="NamedType")
    named.field.add(name="name", number=1, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    named.field.add(name="type", number=2, type=field.TYPE_BYTES, label=field.LABEL_OPTIONAL)
    node = file.message_type.add(name="Node")
    node.field.add(name="op_type", number=4, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    graph = file.message_type.add(name="Graph")
    for name, number, kind in (
        ("node", 1, "Node"),
        ("input", 11, "NamedType"),
        ("output", 12, "NamedType"),
        ("value_info", 13, "NamedType"),
    ):
        graph.field.add(
            name=name,
            number=number,
            type=field.TYPE_MESSAGE,
            type_name=f".{_PACKAGE}.{kind}",
            label=field.LABEL_REPEATED,
        )
    model = file.message_type.add(name="Model")
    model.field.add(
        name="graph",
        number=7,
        type=field.TYPE_MESSAGE,
        type_name=f".{_PACKAGE}.Graph",
        label=field.LABEL_OPTIONAL,
    )
    fields = file.message_type.add(name="NodeFields")
    for name, number, kind, label in (
        ("input", 1, field.TYPE_STRING, field.LABEL_REPEATED),
        ("output", 2, field.TYPE_STRING, field.LABEL_REPEATED),
        ("name", 3, field.TYPE_STRING, field.LABEL_OPTIONAL),
        ("op_type", 4, field.TYPE_STRING, field.LABEL_OPTIONAL),
        ("attribute", 5, field.TYPE_BYTES, field.LABEL_REPEATED),
        ("domain", 7, field.TYPE_STRING, field.LABEL_OPTIONAL),
    ):
        fields.field.add(name=name, number=number, type=kind, label=label)
    nodes = file.message_type.add(name="GraphNodes")
    nodes.field.add(
        name="node",
        number=1,
        type=field.TYPE_MESSAGE,
        type_name=f".{_PACKAGE}.NodeFields",
        label=field.LABEL_REPEATED,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.Graph"))


@functools.cache
def _nodes_class():
    pool = _graph_class().DESCRIPTOR.file.pool
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.GraphNodes"))


def shallow_graph(serialized: bytes):
    """The graph `serialized` as a message with `node[i].op_type` and `value_info`, `output`,
    `input` entries of `.name` and `.type` (the serialized TypeProto, bytes)."""
    return _graph_class().FromString(serialized)


def shallow_model_graph(serialized_model: bytes):
    """`shallow_graph` of the graph of a serialized ModelProto (field 7)."""
    pool = _graph_class().DESCRIPTOR.file.pool
    model = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.Model"))
    return model.FromString(serialized_model).graph


def node_fields(serialized: bytes):
    """The nodes of the graph `serialized`, each with `.name`, `.op_type`, `.domain`,
    `.input`, `.output` and `.attribute` (each AttributeProto serialized, bytes)."""
    return _nodes_class().FromString(serialized).node


@functools.cache
def _locations_class():
    """A projection of ModelProto onto the `data_location` of every TensorProto that
    `loading.iter_graph_tensors` visits: initializers (GraphProto 5), sparse initializers'
    values (GraphProto 15, SparseTensorProto 1), and tensor attributes of nodes (GraphProto 1,
    NodeProto 5, AttributeProto t 5 and tensors 10), in bodies too (AttributeProto g 6 and
    graphs 11). Every message field is declared singular: protobuf merges the repeated
    occurrences of a singular message field into one message, and `data_location`
    (TensorProto 14) is declared repeated, so one parse gathers every tensor's value in a
    handful of lists, whatever the number of nodes."""
    field = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="trtforge_data_locations.proto", package=_PACKAGE, syntax="proto2"
    )

    def message(name: str, *fields: tuple[str, int, str | None]) -> None:
        msg = file.message_type.add(name=name)
        for field_name, number, kind in fields:
            if kind is None:  # TensorProto.data_location, all occurrences kept
                msg.field.add(
                    name=field_name,
                    number=number,
                    type=field.TYPE_INT32,
                    label=field.LABEL_REPEATED,
                )
            else:
                msg.field.add(
                    name=field_name,
                    number=number,
                    type=field.TYPE_MESSAGE,
                    type_name=f".{_PACKAGE}.{kind}",
                    label=field.LABEL_OPTIONAL,
                )

    message("LocTensor", ("data_location", 14, None))
    message("LocSparse", ("values", 1, "LocTensor"))
    message(
        "LocAttribute",
        ("t", 5, "LocTensor"),
        ("g", 6, "LocGraph"),
        ("tensors", 10, "LocTensor"),
        ("graphs", 11, "LocGraph"),
    )
    message("LocNode", ("attribute", 5, "LocAttribute"))
    message(
        "LocGraph",
        ("node", 1, "LocNode"),
        ("initializer", 5, "LocTensor"),
        ("sparse_initializer", 15, "LocSparse"),
    )
    message("LocModel", ("graph", 7, "LocGraph"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.LocModel"))


def data_locations(serialized_model: bytes) -> set[int]:
    """Every value of `data_location` among the tensors of the serialized ModelProto that
    `loading.iter_graph_tensors` would visit (`_locations_class`): a model none of whose
    tensors is external has no 1 (`TensorProto.EXTERNAL`) here."""
    found: set[int] = set()
    graphs = [_locations_class().FromString(serialized_model).graph]
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


@functools.cache
def _merged_classes():
    """(model class, graph class) of a projection in which a graph's nodes and its
    value_info entries are declared as singular messages: protobuf merges the occurrences of
    a singular message field, so one parse yields every node's name, op_type and domain and
    every value_info entry's name and serialized type as flat lists (`merged_columns`,
    `node_scalars`)."""
    field = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="trtforge_merged_graph.proto", package=_PACKAGE, syntax="proto2"
    )
    node = file.message_type.add(name="MergedNode")
    for name, number in (("name", 3), ("op_type", 4), ("domain", 7)):
        node.field.add(name=name, number=number, type=field.TYPE_STRING, label=field.LABEL_REPEATED)
    values = file.message_type.add(name="MergedValues")
    values.field.add(name="name", number=1, type=field.TYPE_STRING, label=field.LABEL_REPEATED)
    values.field.add(name="type", number=2, type=field.TYPE_BYTES, label=field.LABEL_REPEATED)
    graph = file.message_type.add(name="MergedGraph")
    for name, number, kind in (("node", 1, "MergedNode"), ("value_info", 13, "MergedValues")):
        graph.field.add(
            name=name,
            number=number,
            type=field.TYPE_MESSAGE,
            type_name=f".{_PACKAGE}.{kind}",
            label=field.LABEL_OPTIONAL,
        )
    model = file.message_type.add(name="MergedModel")
    model.field.add(
        name="graph",
        number=7,
        type=field.TYPE_MESSAGE,
        type_name=f".{_PACKAGE}.MergedGraph",
        label=field.LABEL_OPTIONAL,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return tuple(
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
        for name in ("MergedModel", "MergedGraph")
    )


def merged_columns(serialized: bytes, shallow, model: bool = False):
    """(op_type of every node, name of every value_info entry, serialized type of every
    value_info entry) of the graph `serialized` (a ModelProto's when `model`), whose
    `shallow_graph` is `shallow`: read as flat lists (`_merged_classes`) when each node has
    exactly one op_type and each entry one name and one type in the wire data (the flat
    lists are then as long as the nodes and entries `shallow` counts; serialized messages
    write each set field once), else entry by entry from `shallow`."""
    model_class, graph_class = _merged_classes()
    merged = (
        model_class.FromString(serialized).graph if model else graph_class.FromString(serialized)
    )
    ops = merged.node.op_type[:]
    if len(ops) != len(shallow.node):
        ops = [node.op_type for node in shallow.node]
    names, types = merged.value_info.name[:], merged.value_info.type[:]
    if not len(names) == len(types) == len(shallow.value_info):
        names = [value.name for value in shallow.value_info]
        types = [value.type for value in shallow.value_info]
    return ops, names, types


def node_scalars(serialized_graph: bytes, count: int) -> tuple[list | None, list | None, list]:
    """(names, op_types, domains) of the `count` nodes of the graph `serialized_graph`, each
    read as one flat list (`_merged_classes`) where it lines up with the nodes: a list as long
    as the nodes (every node has the field once: serialized messages write each set field
    once), or, for domains, empty (no node sets one: all ""); None where it does not, for the
    caller to read node by node."""
    merged = _merged_classes()[1].FromString(serialized_graph).node
    names, ops, domains = merged.name[:], merged.op_type[:], merged.domain[:]
    if not domains:
        domains = [""] * count
    return (
        names if len(names) == count else None,
        ops if len(ops) == count else None,
        domains if len(domains) == count else None,
    )
