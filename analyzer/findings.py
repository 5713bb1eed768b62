"""Findings: why a node is not accepted, and what fixes it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fix:
    """Something that resolves a finding.

    Attributes:
        kind: "rewrite" (a trt-rewrite pass), "plugin" (a trtforge plugin) or "manual".
        name: the pass id (e.g. "fold-constants"), the plugin name, or a short label.
        detail: optional extra words for the user.
    """

    kind: str
    name: str
    detail: str = ""

    def to_json(self) -> dict:
        if self.kind == "rewrite":
            out = {"kind": "rewrite", "pass": self.name}
        elif self.kind == "plugin":
            out = {"kind": "plugin", "plugin": self.name}
        else:
            out = {"kind": self.kind, "action": self.name}
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class Finding:
    """One reason a node (or the graph) is not accepted by the parser.

    Attributes:
        code: stable id such as `topk/k-not-constant` or `custom-domain-op`.
        message: `<what is wrong> (<what was seen>)`.
        hint: what to do next.
        fixes: passes or plugins that resolve it (only ones that exist).
        source: where the fact comes from (doc, release note, parser file).
        severity: "error" (the parser rejects the node) or "warning" (accepted, with a caveat).
        inner: path to the inner node at fault for If/Loop/Scan bodies, e.g. "loop_0/body/Add_3".
    """

    code: str
    message: str
    hint: str = ""
    fixes: tuple[Fix, ...] = ()
    source: str = ""
    severity: str = "error"
    inner: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def with_message(self, message: str) -> Finding:
        """This finding with `message` instead of its own: what `dataclasses.replace` makes,
        without its per-call checks (a verdict shared by 100,000 nodes is copied for each,
        its message given the node's name)."""
        copy = object.__new__(Finding)
        vars(copy).update(vars(self), message=message)
        return copy

    def to_json(self) -> dict:
        out: dict = {"code": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        if self.severity != "error":
            out["severity"] = self.severity
        if self.source:
            out["source"] = self.source
        if self.inner:
            out["node"] = self.inner
        return out
