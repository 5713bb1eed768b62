"""A serialized GraphProto's typed names and node op types, read without decoding the rest.

Building the type table of a 100,000-node model means visiting 100,000 ValueInfoProtos; with
onnx's own classes each visit makes a TypeProto wrapper and serializes it again (~0.7 µs).
The wire format of a submessage is a length-delimited byte string, so a message type of our
own with GraphProto's field numbers, declaring ValueInfoProto's `type` as `bytes`, is handed
each serialized TypeProto as it is, and skips decoding nodes beyond their op_type. Field
numbers are those of onnx.proto (GraphProto: node 1, input 11, output 12, value_info 13;
ValueInfoProto: name 1, type 2; NodeProto: op_type 4); the syntax is proto2, as there.
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
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.Graph"))


def shallow_graph(serialized: bytes):
    """The graph `serialized` as a message with `node[i].op_type` and `value_info`, `output`,
    `input` entries of `.name` and `.type` (the serialized TypeProto, bytes)."""
    return _graph_class().FromString(serialized)
