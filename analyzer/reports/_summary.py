"""What every human-facing report shows first: counts, unsupported op types, the fix command.

Shared by the text and markdown reports so both say the same thing.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import PurePath

from trtforge.analyzer.report import NodeVerdict, Report, Tally


@dataclass(frozen=True)
class OpTypeCount:
    """Unsupported nodes of one op type."""

    op_type: str
    domain: str
    count: int
    codes: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.op_type} ({self.domain})" if self.domain else self.op_type


@dataclass(frozen=True)
class FixPlan:
    """The one command that fixes the most, built from the fixes in the report.

    Attributes:
        passes: rewrite pass ids, most nodes fixed first.
        command: the `trt-rewrite` command line ("" when no pass applies).
        fixed: unsupported nodes each of whose errors names one of those passes (a node also
            refused for a reason no pass removes is not fixed by them).
        total: unsupported nodes.
        plugins: plugin names that fixes name, with how many nodes each would cover.
        invalid: the graph is not valid ONNX (an `invalid/` error): trt-rewrite refuses it,
            so no command is given, and no plugin either (the graph must be fixed first).
        partly: unsupported nodes the passes rewrite that keep an error no pass removes.
        graph: graph-level errors (an initializer of a type the parser cannot import) whose
            fixes name one of those passes.
    """

    passes: tuple[str, ...]
    command: str
    fixed: int
    total: int
    plugins: tuple[tuple[str, int], ...]
    invalid: bool = False
    partly: int = 0
    graph: int = 0

    @property
    def heading(self) -> str:
        """What the command does: fixes unsupported nodes, graph-level errors, or (a
        supported model) applies the performance advice."""
        problems = f"{self.graph} graph-level problem{'s' * (self.graph != 1)}"
        if self.total and self.partly:
            return (
                f"Fix {self.fixed} of {self.total} unsupported nodes, and {self.partly} in part "
                "(an error no pass removes stays)"
                + (f", and {problems}" if self.graph else "")
                + ", with"
            )
        if self.total and self.graph and not self.fixed:
            return f"Fix {problems} (none of the {self.total} unsupported nodes) with"
        if self.total:
            also = f", and {problems}," if self.graph else ""
            return f"Fix {self.fixed} of {self.total} unsupported nodes{also} with"
        if self.graph:
            return f"Fix {problems} with"
        return "Apply the performance advice with"


#: what the reports say instead of a fix command when the graph is not valid ONNX
INVALID_LINE = (
    "The graph is not valid ONNX (the invalid/ findings): trt-rewrite rewrites valid graphs "
    "only; fix the exporter and re-export the model first."
)


def _domain(domain: str) -> str:
    return "" if domain in ("", "ai.onnx") else domain


def by_kin(of: Callable[[NodeVerdict], Hashable]) -> Callable[[NodeVerdict], Hashable]:
    """`of`, asked once for the nodes of one shared verdict (`NodeVerdict.kin`: their ops
    and findings' fields other than the messages are equal, so `of` is, as long as it reads
    nothing else): 100,000 nodes of one custom op, keyed once."""
    of_kin: dict[tuple, Hashable] = {}  # (kin, op, domain) -> `of` of the first such node

    def key(node: NodeVerdict) -> Hashable:
        if node.kin is None:
            return of(node)
        kin = (id(node.kin), node.op_type, node.domain)  # (the backend shares within an op)
        made = of_kin.get(kin)
        if made is None:
            made = of_kin[kin] = of(node)
        return made

    return key


def _op_and_codes(node: NodeVerdict) -> tuple:
    return (node.op_type, node.domain, tuple([(r.code, r.is_error) for r in node.reasons]))


def unsupported_op_types(report: Report, tally: Tally | None = None) -> list[OpTypeCount]:
    """Unsupported op types, most frequent first (`tally`: the report's, if at hand)."""
    counts: Counter[tuple[str, str]] = Counter()
    codes: dict[tuple[str, str], dict[str, None]] = {}
    # nodes alike (op, domain, their findings' codes and severities) counted first: a model
    # of 100,000 nodes of one unsupported op has one such kind
    kinds = Counter(map(by_kin(_op_and_codes), (tally or report.tally()).unsupported))
    for (op, domain, reasons), n in kinds.items():
        key = (op, _domain(domain))
        counts[key] += n
        bucket = codes.setdefault(key, {})
        errors = [code for code, is_error in reasons if is_error]
        for code in errors or [code for code, _ in reasons]:
            bucket.setdefault(code, None)
    return [
        OpTypeCount(op, domain, n, tuple(codes[(op, domain)]))
        for (op, domain), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def rewritten_path(path: str) -> str:
    """`model.onnx` -> `model.trt.onnx` (same folder)."""
    pure = PurePath(path)
    stem = pure.name[: -len(".onnx")] if pure.name.endswith(".onnx") else pure.name
    return str(pure.with_name(f"{stem}.trt.onnx"))


def fix_plan(report: Report, tally: Tally | None = None) -> FixPlan:
    """Collects the rewrite passes named by the unsupported nodes' fixes into one command
    (`tally`: the report's, if at hand)."""
    unsupported = (tally or report.tally()).unsupported
    # nodes whose findings hold the same codes and fixes (by identity: the findings of a
    # verdict shared by many nodes share their tuple of fixes) are counted as one kind
    kinds: dict[tuple, list] = {}  # kind -> [nodes, the first]
    kind_of = by_kin(_fixes_and_codes)
    for node in unsupported:
        kind = kind_of(node)
        seen = kinds.get(kind)
        if seen is None:
            kinds[kind] = [1, node]
        else:
            seen[0] += 1
    findings = [r for _, node in kinds.values() for r in node.reasons]
    findings += report.graph_findings
    if any(f.is_error and f.code.startswith("invalid/") for f in findings):
        return FixPlan((), "", 0, len(unsupported), (), invalid=True)
    per_pass: Counter[str] = Counter()
    per_plugin: Counter[str] = Counter()
    fixed = partly = 0
    for n, node in kinds.values():
        names = {f.name for f in node.fixes if f.kind == "rewrite"}
        for name in names:
            per_pass[name] += n
        for name in {f.name for f in node.fixes if f.kind == "plugin"}:
            per_plugin[name] += n
        whole = all(any(f.kind == "rewrite" for f in error.fixes) for error in node.errors)
        fixed += n if names and whole else 0
        partly += n if names and not whole else 0
    graph = 0
    for finding in report.graph_findings:
        names = {f.name for f in finding.fixes if f.kind == "rewrite"}
        per_pass.update(names)
        graph += bool(names) and finding.is_error
    passes = tuple(p for p, _ in sorted(per_pass.items(), key=lambda kv: (-kv[1], kv[0])))
    command = ""
    if passes:
        model = report.model.path
        words = ["trt-rewrite", model, "-o", rewritten_path(model)]
        words += [f"--{p}" for p in passes]
        command = " ".join(shlex.quote(w) for w in words)
    plugins = tuple(sorted(per_plugin.items(), key=lambda kv: (-kv[1], kv[0])))
    return FixPlan(passes, command, fixed, len(unsupported), plugins, partly=partly, graph=graph)


def _fixes_and_codes(node: NodeVerdict) -> tuple:
    return tuple([(id(r.fixes), r.is_error, r.code) for r in node.reasons])


def not_judged(report: Report, tally: Tally | None = None) -> int:
    """Nodes the backend could not judge (a `…/not-judged` warning; typically they read the
    output of an unsupported node). Both backends count them as supported — they do not make
    the model fail by themselves — and the verdict line says how many there are."""
    return sum(
        node.ok and any(r.code.endswith("not-judged") for r in node.reasons)
        for node in (tally or report.tally()).noteworthy
    )


def verdict_line(report: Report, tally: Tally | None = None) -> str:
    """One line: the whole-model verdict with counts (`tally`: the report's, if at hand)."""
    tally = tally or report.tally()
    s = tally.summary
    total = len(report.nodes)
    bad = len(tally.unsupported)
    unjudged = not_judged(report, tally)
    supported = f"{s['supported']} supported"
    if unjudged:
        supported += f" (incl. {unjudged} not judged)"
    counts = f"{supported}, {s['unsupported']} unsupported, {s['plugin']} plugin"
    if tally.supported:
        warnings = sum(not r.is_error for n in tally.noteworthy for r in n.reasons)
        warnings += sum(not f.is_error for f in report.graph_findings)
        note = f"; {warnings} warning{'s' * (warnings != 1)}" if warnings else ""
        return f"SUPPORTED: all {total} nodes build ({counts}){note}"
    graph_errors = sum(f.is_error for f in report.graph_findings)
    what = f"{bad} of {total} nodes will not build" if bad else "the graph will not build"
    if bad and graph_errors:
        what += f", plus {graph_errors} graph-level problem{'s' * (graph_errors != 1)}"
    return f"NOT SUPPORTED: {what} ({counts})"
