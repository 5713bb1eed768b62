"""Graph-level checks: opset range, IR version, dynamic input dims."""

from __future__ import annotations

from collections.abc import Iterator

from trtforge.analyzer.findings import Finding
from trtforge.analyzer.graph import GraphView
from trtforge.analyzer.loading import LoadedModel
from trtforge.analyzer.targets import Target


def check_graph(loaded: LoadedModel, graph: GraphView, target: Target) -> Iterator[Finding]:
    """Findings about the model as a whole (not tied to one node)."""
    return iter(())
