"""The result of a check: per-node verdicts, graph-level findings, and a summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from trtforge.analyzer.findings import Finding, Fix
from trtforge.analyzer.safe_text import text_of

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
    #: one object held by every node of a verdict the static backend shares: their findings
    #: differ only by the node name their messages start with, so a renderer asks one of
    #: them what it asks of all (`reports._summary.by_kin`: 100,000 nodes of one custom op).
    #: None: a verdict of its own. Not part of the verdict's value (equality, JSON).
    kin: object = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # protobuf hands strings that are not valid UTF-8 over as bytes; TensorRT accepts
        # such names, so they are shown with replacement characters rather than refused.
        if type(self.name) is bytes:
            self.name = self.name.decode("utf-8", "replace")
        if type(self.op_type) is bytes:
            self.op_type = self.op_type.decode("utf-8", "replace")
        if type(self.domain) is bytes:
            self.domain = self.domain.decode("utf-8", "replace")

    @classmethod
    def many(
        cls, names: Sequence[str], ops: Sequence[str], domains: Sequence[str]
    ) -> list[NodeVerdict]:
        """A "supported" verdict for each node of a graph given by columns (its names, op
        types and domains), numbered in order: what `NodeVerdict(index, name, op, domain)`
        makes for each, without running `__init__` 100,000 times (a large model's verdicts
        are made in ~2/3 of the time)."""
        texts = [
            column
            if set(map(type, column)) <= {str}
            else [x.decode("utf-8", "replace") if type(x) is bytes else x for x in column]
            for column in (names, ops, domains)
        ]
        new = object.__new__

        def made(index: int, name: str, op: str, domain: str) -> NodeVerdict:
            verdict = new(cls)
            verdict.index, verdict.name, verdict.op_type, verdict.domain = index, name, op, domain
            verdict.status, verdict.reasons, verdict.plugin = SUPPORTED, [], None
            verdict.kin = None
            return verdict

        return list(map(made, range(len(texts[0])), *texts))

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
    """The model a report is of. `sha256` may be given as the function that computes it (a
    large file's digest, hashed by a thread): it is called when first read, by the formats
    that show it (JSON, SARIF), and a text report never waits for it."""

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
            "opsets": {text_of(domain): version for domain, version in self.opsets.items()},
            "node_count": self.node_count,
        }


def _model_sha256(self: ModelInfo) -> str:
    value = self.__dict__["_sha256"]
    if callable(value):
        value = value()
        object.__setattr__(self, "_sha256", value)
    return value


# the dataclass's `sha256` field, read through this: it may be given as a function
ModelInfo.sha256 = property(
    _model_sha256,
    lambda self, value: object.__setattr__(self, "_sha256", value),
    doc="The model file's SHA-256 (hex).",
)


@dataclass(frozen=True)
class Tally:
    """A report's figures at one moment, from one pass over its verdicts (`Report.tally`).

    A 100,000-node model's report has a handful of nodes worth a line: a pass over the
    verdicts costs ~10 ms, so renderers take one tally and ask it everything rather than walk
    the nodes once per question.

    Attributes:
        noteworthy: the nodes not plainly supported (another status, or a finding), in order.
        summary: node counts per status (supported, unsupported, plugin).
        supported: the whole-model verdict (`Report.supported`).
        unsupported: the nodes that make the model fail to build, in order.
    """

    noteworthy: list[NodeVerdict]
    summary: dict[str, int]
    supported: bool
    unsupported: list[NodeVerdict]


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

    def tally(self) -> Tally:
        """Every whole-report figure, from one pass over the verdicts (`Tally`). A renderer
        takes one and asks it everything; the properties below each take a fresh one."""
        nodes = self.nodes
        noteworthy = [n for n in nodes if n.reasons or n.status != SUPPORTED]
        statuses = [n.status for n in noteworthy]
        summary = {status: statuses.count(status) for status in (UNSUPPORTED, PLUGIN)}
        summary = {SUPPORTED: len(nodes) - len(statuses) + statuses.count(SUPPORTED), **summary}
        graph_ok = not any(f.is_error for f in self.graph_findings)
        unsupported = [n for n in noteworthy if n.status != SUPPORTED and not n.ok]
        return Tally(noteworthy, summary, graph_ok and not unsupported, unsupported)

    @property
    def supported(self) -> bool:
        """True when every node is supported (or covered by an available plugin) and no
        graph finding is an error."""
        return self.tally().supported

    @property
    def summary(self) -> dict[str, int]:
        """Node counts per status (supported, unsupported, plugin)."""
        return self.tally().summary

    @property
    def unsupported_nodes(self) -> list[NodeVerdict]:
        """The nodes that make the model fail to build, in order."""
        return self.tally().unsupported

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
