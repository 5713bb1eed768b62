"""Copies of a graph's nodes under new names, for the large models that benchmarks and tests
build from small ones (blocks chained output to input, exports side by side)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import onnx


def renamed_nodes(
    nodes: Iterable[onnx.NodeProto], prefix: str, rename: Callable[[str], str]
) -> list[onnx.NodeProto]:
    """Each of `nodes` copied: its name given `prefix` (an unnamed node stays unnamed), its
    inputs and outputs passed through `rename` — and so every name in its If/Loop/Scan bodies,
    whose nodes read the enclosing graph's values by name (a body left as it was would read
    the first copy's, or names no copy defines)."""
    copies = []
    for node in nodes:
        clone = onnx.NodeProto()
        clone.CopyFrom(node)
        _rename_node(clone, prefix, rename)
        copies.append(clone)
    return copies


def _rename_node(node: onnx.NodeProto, prefix: str, rename: Callable[[str], str]) -> None:
    node.name = f"{prefix}{node.name}" if node.name else ""
    node.input[:] = [rename(n) for n in node.input]
    node.output[:] = [rename(n) for n in node.output]
    for attr in node.attribute:
        bodies = [attr.g] if attr.HasField("g") else list(attr.graphs)
        for body in bodies:
            _rename_graph(body, prefix, rename)


def _rename_graph(graph: onnx.GraphProto, prefix: str, rename: Callable[[str], str]) -> None:
    for node in graph.node:
        _rename_node(node, prefix, rename)
    for values in (graph.input, graph.output, graph.value_info):
        for value in values:
            value.name = rename(value.name)
    for tensor in graph.initializer:
        tensor.name = rename(tensor.name)
