"""The result of a check: per-node verdicts, graph-level findings, and a summary."""

from __future__ import annotations

from dataclasses import dataclass, field

from trtforge.analyzer.findings import Finding, Fix

SCHEMA_ID = "trtforge.check/1"

SUPPORTED = "supported"
UNSUPPORTED = "unsupported"
PLUGIN = "plugin"


@dataclass(frozen=True)
class PluginRef:
    """The plugin a `plugin` node runs through."""

    name: str
    version: str
    namespace: str
    available: bool

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "namespace": self.namespace,
            "available": self.available,
        }


@dataclass(slots=True)
class NodeVerdict:
    """The verdict for one node of the top-level graph (slots: a 100,000-node model makes
    100,000 of them)."""

    index: int
    name: str
    op_type: str
    domain: str
    status: str = SUPPORTED
    reasons: list[Finding] = field(default_factory=list)
    plugin: PluginRef | None = None

    def __post_init__(self) -> None:
        # protobuf hands strings that are not valid UTF-8 over as bytes; TensorRT accepts
        # such names, so they are shown with replacement characters rather than refused.
        if type(self.name) is bytes:
            self.name = self.name.decode("utf-8", "replace")
        if type(self.op_type) is bytes:
            self.op_type = self.op_type.decode("utf-8", "replace")
        if type(self.domain) is bytes:
            self.domain = self.domain.decode("utf-8", "replace")

    @property
    def errors(self) -> list[Finding]:
        return [r for r in self.reasons if r.is_error]

    @property
    def fixes(self) -> list[Fix]:
        if not self.reasons:
            return []
        seen: dict[tuple, Fix] = {}
        for reason in self.reasons:
            for fix in reason.fixes:
                seen.setdefault((fix.kind, fix.name), fix)
        return list(seen.values())

    @property
    def ok(self) -> bool:
        """True when the node does not make the model fail to build."""
        if self.status == UNSUPPORTED:
            return False
        if self.status == PLUGIN:
            return bool(self.plugin and self.plugin.available)
        return True

    def to_json(self) -> dict:
        out = {
            "index": self.index,
            "name": self.name,
            "op_type": self.op_type,
            "domain": self.domain,
            "status": self.status,
            "reasons": [r.to_json() for r in self.reasons],
            "fixes": [f.to_json() for f in self.fixes],
        }
        if self.plugin is not None:
            out["plugin"] = self.plugin.to_json()
        return out


@dataclass(frozen=True)
class ModelInfo:
    path: str
    sha256: str
    ir_version: int
    opsets: dict[str, int]
    node_count: int

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "ir_version": self.ir_version,
            "opsets": dict(self.opsets),
            "node_count": self.node_count,
        }


@dataclass
class Report:
    """Everything `trt-check` knows about one model for one target."""

    model: ModelInfo
    target: str
    backend: str
    nodes: list[NodeVerdict]
    graph_findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: why this target and backend were used (set by `check()`; shown in the report header).
    selection: str = ""

    @property
    def supported(self) -> bool:
        """True when every node is supported (or covered by an available plugin)."""
        graph_ok = not any(f.is_error for f in self.graph_findings)
        return graph_ok and all(node.ok for node in self.nodes if node.status != SUPPORTED)

    @property
    def summary(self) -> dict[str, int]:
        statuses = [node.status for node in self.nodes]
        return {status: statuses.count(status) for status in (SUPPORTED, UNSUPPORTED, PLUGIN)}

    @property
    def unsupported_nodes(self) -> list[NodeVerdict]:
        return [n for n in self.nodes if not n.ok]

    @property
    def exit_code(self) -> int:
        return 0 if self.supported else 1

    def to_json(self) -> dict:
        return {
            "schema": SCHEMA_ID,
            "model": self.model.to_json(),
            "target": self.target,
            "backend": self.backend,
            "supported": self.supported,
            "nodes": [n.to_json() for n in self.nodes],
            "graph": {"reasons": [f.to_json() for f in self.graph_findings]},
            "summary": self.summary,
        }
