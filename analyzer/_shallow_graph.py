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


def node_fields(serialized: bytes):
    """The nodes of the graph `serialized`, each with `.name`, `.op_type`, `.domain`,
    `.input`, `.output` and `.attribute` (each AttributeProto serialized, bytes)."""
    return _nodes_class().FromString(serialized).node
