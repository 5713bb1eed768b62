"""Copies of a graph's nodes under new names, for the large models that benchmarks and tests
build from small ones (blocks chained output to input, exports side by side)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import onnx


def renamed_nodes(
    nodes: Iterable[onnx.NodeProto], prefix: str, rename: Callable[[str], str]
) -> list[onnx.NodeProto]:
    """Each of `nodes` copied: its name given `prefix` (an unnamed node stays unnamed), its
    inputs and outputs passed through `rename`."""
    copies = []
    for node in nodes:
        clone = onnx.NodeProto()
        clone.CopyFrom(node)
        clone.name = f"{prefix}{node.name}" if node.name else ""
        clone.input[:] = [rename(n) for n in node.input]
        clone.output[:] = [rename(n) for n in node.output]
        copies.append(clone)
    return copies
