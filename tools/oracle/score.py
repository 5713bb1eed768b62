"""Scores the static backend against the parser's ground truth.

Per-node ground truth (see `_parser_worker` for how it is obtained): a node is *unsupported*
when the parser fails on it while every node it was parsed with is as in the model, except that
nodes the parser already rejected are replaced by graph inputs carrying their outputs' inferred
types. Nodes the parser could not judge (after a graph-level error, behind an output of unknown
type, or after a parser crash) are left out of the node scores, and so are nodes rejected only
while reading such a stand-in input (`dependent`: the rejection may be an artifact of it).
A node with a subgraph body (If/Loop/Scan) is one node: it is unsupported when anything in
its body is.

Scores:
  * recall of unsupported nodes: of the nodes the parser rejects, the share the static
    backend marks unsupported;
  * precision of unsupported nodes: of the nodes the static backend marks unsupported (and the
    parser judged), the share the parser rejects;
  * whole-model agreement: the share of models whose verdict (`Report.supported` vs. the
    parser accepting the whole model) agrees.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from tools.oracle.corpus import CorpusModel
from trtforge.analyzer.backends.parser import ParserResult
from trtforge.analyzer.errors import UserError
from trtforge.analyzer.targets import Target

log = logging.getLogger("trtforge.oracle")

THRESHOLD = 0.97


@dataclass
class Scores:
    """The agreement scores and every disagreement."""

    target: str
    parser: str
    models: int = 0
    nodes_judged: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    models_agree: int = 0
    models_scored: int = 0
    node_disagreements: list[dict] = field(default_factory=list)
    model_disagreements: list[dict] = field(default_factory=list)
    crashes: list[dict] = field(default_factory=list)
    static_errors: list[dict] = field(default_factory=list)
    static_seconds: float = 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def model_agreement(self) -> float:
        return self.models_agree / self.models_scored if self.models_scored else 1.0

    @property
    def passed(self) -> bool:
        return min(self.recall, self.precision, self.model_agreement) >= THRESHOLD

    def summary(self) -> str:
        lines = [
            f"agreement of the static backend ({self.target}) with the {self.parser}",
            f"  models: {self.models} ({self.models_scored} scored), nodes judged by the parser: "
            f"{self.nodes_judged}",
            f"  unsupported nodes: parser {self.tp + self.fn}, static {self.tp + self.fp}, "
            f"both {self.tp}",
            f"  recall of unsupported nodes:    {self.recall:.4f}  (fn {self.fn})",
            f"  precision of unsupported nodes: {self.precision:.4f}  (fp {self.fp})",
            f"  whole-model verdict agreement:  {self.model_agreement:.4f}  "
            f"({self.models_scored - self.models_agree} disagree)",
            f"  parser crashes/timeouts: {len(self.crashes)}; static errors: "
            f"{len(self.static_errors)}; static time {self.static_seconds:.1f} s",
            f"  threshold {THRESHOLD}: {'PASS' if self.passed else 'FAIL'}",
        ]
        return "\n".join(lines)

    def disagreement_lines(self) -> list[str]:
        lines = []
        for d in self.node_disagreements:
            static = "; ".join(d["static"]["codes"]) or "-"
            parser = (
                "; ".join(f"{e['code']}: {e['desc'][:160]}" for e in d["parser"]["errors"]) or "-"
            )
            lines.append(
                f"[{d['kind']}] {d['model']} node {d['node']} '{d['name']}' {d['op']}"
                f"{'(' + d['domain'] + ')' if d['domain'] else ''}: "
                f"static {d['static']['status']} [{static}] / parser {d['parser']['status']} "
                f"[{parser}]"
            )
        for d in self.model_disagreements:
            lines.append(
                f"[model] {d['model']}: static {'supported' if d['static'] else 'unsupported'} "
                f"[{'; '.join(d['static_codes']) or '-'}] / parser "
                f"{'supported' if d['parser'] else 'unsupported'} "
                f"[{'; '.join(d['parser_errors']) or '-'}]"
            )
        return lines

    def op_patterns(self) -> list[tuple[str, int]]:
        """Disagreements counted by (kind, op), most frequent first."""
        counts = Counter(f"{d['kind']} {d['op']}" for d in self.node_disagreements)
        return counts.most_common()

    def to_json(self) -> dict:
        return {
            "target": self.target,
            "parser": self.parser,
            "models": self.models,
            "models_scored": self.models_scored,
            "nodes_judged": self.nodes_judged,
            "confusion": {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn},
            "recall": self.recall,
            "precision": self.precision,
            "model_agreement": self.model_agreement,
            "threshold": THRESHOLD,
            "passed": self.passed,
            "node_disagreements": self.node_disagreements,
            "model_disagreements": self.model_disagreements,
            "crashes": self.crashes,
            "static_errors": self.static_errors,
        }


def _short_errors(entry: dict) -> list[dict]:
    return [
        {
            "code": e.get("code", ""),
            "desc": (e.get("desc") or "").strip(),
            "op": e.get("op", ""),
            "node_name": e.get("node_name", ""),
            "func": e.get("func", ""),
        }
        for e in entry.get("errors", [])
    ]


def score(
    models: list[CorpusModel],
    truth: dict[str, ParserResult],
    target: Target,
    parser: str = "",
    static=None,
) -> Scores:
    """Runs the static backend on each model and compares it with the parser's verdicts.

    Args:
        models: the corpus.
        truth: the parser's verdicts by sha256.
        target: the static backend's target.
        parser: the parser's name, for the summary.
        static: `(LoadedModel, Target) -> Report`; default: the static backend.
    """
    from trtforge.analyzer.loading import load_model

    if static is None:
        from trtforge.analyzer.backends.static import check_static as static

    scores = Scores(target=target.id, parser=parser)
    start = time.perf_counter()
    for model in models:
        result = truth.get(model.sha256)
        if result is None:
            continue
        scores.models += 1
        if result.crash:
            scores.crashes.append({"model": model.name, "crash": result.crash})
        try:
            report = static(load_model(model.path), target)
        except UserError as err:
            # the model is malformed for trt-check: its verdict is "does not build"
            scores.static_errors.append({"model": model.name, "error": str(err)})
            if result.supported is not None:
                scores.models_scored += 1
                if result.supported is False:
                    scores.models_agree += 1
                else:
                    scores.model_disagreements.append(
                        {
                            "model": model.name,
                            "static": False,
                            "parser": True,
                            "static_codes": [f"load-error: {err}"],
                            "parser_errors": [],
                        }
                    )
            continue
        except Exception as err:  # noqa: BLE001 - an engine bug: record it, go on
            log.exception("static backend failed on %s", model.name)
            scores.static_errors.append(
                {"model": model.name, "error": f"internal: {type(err).__name__}: {err}"}
            )
            continue
        if result.supported is not None:
            scores.models_scored += 1
            if report.supported == result.supported:
                scores.models_agree += 1
            else:
                scores.model_disagreements.append(
                    {
                        "model": model.name,
                        "static": report.supported,
                        "parser": result.supported,
                        "static_codes": sorted(
                            {f.code for n in report.nodes for f in n.errors}
                            | {f.code for f in report.graph_findings if f.is_error}
                        ),
                        "parser_errors": [
                            f"{e.get('code')}: {(e.get('desc') or '')[:160]}"
                            for e in result.graph_errors
                        ]
                        + [
                            f"node {i} {report.nodes[i].op_type}: {e.get('code')}"
                            for i, n in enumerate(result.nodes)
                            if i < len(report.nodes)
                            for e in n.get("errors", [])
                        ]
                        + ([f"crash: {result.crash}"] if result.crash else []),
                    }
                )
        for verdict, entry in zip(report.nodes, result.nodes, strict=False):
            if entry["status"] not in ("supported", "unsupported") or entry.get("dependent"):
                continue
            scores.nodes_judged += 1
            parser_bad = entry["status"] == "unsupported"
            static_bad = not verdict.ok
            if parser_bad and static_bad:
                scores.tp += 1
                continue
            if not parser_bad and not static_bad:
                scores.tn += 1
                continue
            if static_bad:
                scores.fp += 1
            else:
                scores.fn += 1
            scores.node_disagreements.append(
                {
                    "kind": "false-positive" if static_bad else "false-negative",
                    "model": model.name,
                    "sha256": model.sha256,
                    "node": verdict.index,
                    "name": verdict.name,
                    "op": verdict.op_type,
                    "domain": verdict.domain,
                    "static": {
                        "status": verdict.status,
                        "codes": [f.code for f in verdict.errors],
                        "messages": [f.message for f in verdict.errors],
                    },
                    "parser": {"status": entry["status"], "errors": _short_errors(entry)},
                }
            )
    scores.static_seconds = time.perf_counter() - start
    return scores


def rejection_table(models: list[CorpusModel], truth: dict[str, ParserResult]) -> str:
    """Markdown: per op, how often the parser rejects/accepts it and why (with an example)."""
    import re

    import onnx

    rejected: dict[str, Counter] = {}
    examples: dict[tuple, str] = {}
    accepted: Counter = Counter()
    graph: Counter = Counter()
    for model in models:
        result = truth.get(model.sha256)
        if result is None:
            continue
        for err in result.graph_errors:
            key = (err.get("code"), err.get("func"), " ".join((err.get("desc") or "").split()))
            graph[key] += 1
            examples.setdefault(("graph", *key), model.name)
        if not any(n["status"] == "unsupported" for n in result.nodes) and result.supported:
            nodes = None
        else:
            nodes = onnx.load(str(model.path), load_external_data=False).graph.node
        for index, entry in enumerate(result.nodes):
            if entry["status"] == "supported":
                if nodes is None:
                    continue
                accepted[nodes[index].op_type] += 1
            elif entry["status"] == "unsupported" and nodes is not None:
                op = nodes[index].op_type
                err = entry["errors"][0] if entry["errors"] else {}
                desc = re.sub(r"\s+", " ", err.get("desc") or "")[:200]
                key = (err.get("code"), err.get("func"), desc)
                rejected.setdefault(op, Counter())[key] += 1
                examples.setdefault((op, *key), model.name)
    lines = [
        "| op | rejected | accepted* | code | parser function | message | example |",
        "|---|---|---|---|---|---|---|",
    ]
    for op in sorted(rejected):
        for key, count in rejected[op].most_common():
            code, func, desc = key
            desc = desc.replace("|", "\\|")
            lines.append(
                f"| {op} | {count} | {accepted.get(op, 0)} | {code} | {func} | {desc} | "
                f"{examples[(op, *key)]} |"
            )
    lines += [
        "",
        "Graph-level errors:",
        "",
        "| count | code | function | message | example |",
        "|---|---|---|---|---|",
    ]
    for key, count in graph.most_common():
        code, func, desc = key
        lines.append(f"| {count} | {code} | {func} | {desc[:200]} | {examples[('graph', *key)]} |")
    lines += [
        "",
        "*accepted: nodes of that op the parser accepted in models that had some failure.",
    ]
    return "\n".join(lines)
