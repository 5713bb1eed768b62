"""Runs rewrite passes over a model until none changes anything (a fixed point).

The model's external weights are never loaded here: graphsurgeon keeps such tensors as
references and writes them back untouched. When no pass changes the graph, the original
ModelProto is returned as it was (not a re-export of it).

The graph comes from the model's session (`session.ModelSession.take_graph`): imported once
from the session's one shape-inference run, which trt-check (`--auto`) and advice share.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import onnx
import onnx_graphsurgeon as gs

from trtforge.analyzer.errors import UserError
from trtforge.analyzer.loading import iter_nodes
from trtforge.analyzer.rewrite.base import PassContext, RewriteOptions, Skip
from trtforge.analyzer.rewrite.graphutil import (
    export_graph,
    graphsurgeon_silenced,
    with_overridable_defaults,
)
from trtforge.analyzer.rewrite.registry import all_passes, get_pass
from trtforge.analyzer.session import ModelSession

log = logging.getLogger("trtforge.rewrite")

#: rounds of all passes before the manager gives up on reaching a fixed point.
MAX_ROUNDS = 8


@dataclass
class PassStats:
    """What one pass did over all rounds."""

    applied: int = 0
    skips: list[Skip] = field(default_factory=list)

    def add_skips(self, skips: Iterable[Skip]) -> None:
        seen = {(s.anchor, s.reason) for s in self.skips}
        for skip in skips:
            if (skip.anchor, skip.reason) not in seen:
                seen.add((skip.anchor, skip.reason))
                self.skips.append(skip)

    def to_json(self) -> dict:
        return {
            "applied": self.applied,
            "skipped": [{"anchor": s.anchor, "reason": s.reason} for s in self.skips],
        }


@dataclass
class RewriteResult:
    """The rewritten model and what each pass did.

    `rewrite_model` fills the first fields; `rewrite_file` (`rewrite.api`: verification,
    the written files) the rest.
    """

    proto: onnx.ModelProto
    changed: bool
    passes: dict[str, PassStats]
    rounds: int
    notes: list[str] = field(default_factory=list)
    #: graph output -> (absolute tolerance, why) that passes declared for verification
    allowances: dict[str, tuple[float, str]] = field(default_factory=dict)
    #: `rewrite.verify.Verification` of the result (None: not verified)
    verification: Any = None
    #: the output files were written (False: verification failed, nothing written)
    written: bool = False
    #: the trt-rewrite JSON report (`--report`, schema trtforge.rewrite/1)
    report: dict = field(default_factory=dict)
    #: why nothing was written, in one line (a failed verification), and what to do next
    failure: str | None = None
    failure_hint: str | None = None

    def to_json(self) -> dict:
        return {
            "changed": self.changed,
            "rounds": self.rounds,
            "passes": {pid: stats.to_json() for pid, stats in self.passes.items()},
            "notes": list(self.notes),
        }


def model_opsets(proto: onnx.ModelProto) -> dict[str, int]:
    return {("" if o.domain == "ai.onnx" else o.domain): o.version for o in proto.opset_import}


def _signature(graph: gs.Graph) -> tuple:
    """A cheap fingerprint of a graph's structure, bodies included (a pass may change only a
    Loop's body), to tell whether a pass changed it."""
    return (
        tuple(t.name for t in graph.inputs),
        tuple(t.name for t in graph.outputs),
        tuple(
            (
                n.op,
                n.domain,
                tuple(t.name for t in n.inputs),
                tuple(t.name for t in n.outputs),
                _bodies_signature(n) if n.op in _BODY_OPS or n.domain else (),
            )
            for n in graph.nodes
        ),
    )


#: standard ops with graph attributes (a custom-domain node may have some too).
_BODY_OPS = frozenset({"If", "Loop", "Scan"})


def _bodies_signature(node: gs.Node) -> tuple:
    bodies = []
    for value in node.attrs.values():
        for body in value if isinstance(value, list) else [value]:
            if isinstance(body, gs.Graph):
                bodies.append(_signature(body))
    return tuple(bodies)


def _min_ir_version(opsets: dict[str, int]) -> int:
    default = opsets.get("", 1)
    best = 3
    for row in onnx.helper.VERSION_TABLE:
        # (release, ir_version, ai.onnx opset, ai.onnx.ml opset, ...)
        if row[2] >= default:
            best = row[1]
            break
    else:
        best = onnx.IR_VERSION
    return best


def resolve_order(pass_ids: Iterable[str]) -> list[str]:
    """The passes to run, deduplicated, in the registry's order.

    Raises:
        UserError: an unknown pass id.
    """
    wanted = list(dict.fromkeys(pass_ids))
    known = all_passes()
    for pid in wanted:
        if pid not in known:
            raise UserError(f"unknown rewrite pass '{pid}'", f"use one of {', '.join(known)}")
    return [pid for pid in known if pid in wanted]


def prepare(proto: onnx.ModelProto, pass_ids: list[str], options: RewriteOptions, notes: list[str]):
    """Converts the model's opset when a pass's options need a newer one (`required_opset`)."""
    opset = model_opsets(proto).get("", 0)
    needs = {pid: get_pass(pid).required_opset(options) for pid in pass_ids}
    wanted = max(needs.values(), default=0)
    if opset >= wanted:
        return proto, False
    from trtforge.analyzer.opset_conversion import convert_version

    try:
        converted = convert_version(proto, wanted)
    except Exception as err:  # noqa: BLE001 - the converter raises many kinds
        raise UserError(
            f"cannot convert the model from opset {opset} to {wanted} for the fused op "
            f"({type(err).__name__}: {str(err)[:120]})",
            f"choose another output for {', '.join(p for p, v in needs.items() if v > opset)} "
            "(e.g. --layernorm-impl/--rmsnorm-impl plugin), or re-export at a newer opset",
        ) from None
    notes.append(f"converted the model from opset {opset} to {wanted}")
    return converted, True


def rewrite_model(
    model: onnx.ModelProto | ModelSession, pass_ids: Iterable[str], options: RewriteOptions
) -> RewriteResult:
    """Applies the passes `pass_ids` to `model` until nothing changes.

    Args:
        model: the model (not modified; external weights need not be loaded), or its
            session, whose graphsurgeon graph the passes then take and change.
        pass_ids: ids of the passes to run (run in the registry's order).
        options: options for the passes.

    Returns:
        The result; `result.proto is proto` when nothing changed.
    """
    session = model if isinstance(model, ModelSession) else ModelSession.unchecked(model, True)
    with graphsurgeon_silenced():
        return _rewrite_model(session, pass_ids, options)


def _rewrite_model(
    session: ModelSession, pass_ids: Iterable[str], options: RewriteOptions
) -> RewriteResult:
    proto = session.proto
    order = resolve_order(pass_ids)
    notes: list[str] = []
    working, converted = prepare(proto, order, options, notes)
    graph = (session.derive(working) if converted else session).take_graph()
    opsets = model_opsets(working)
    stats = {pid: PassStats() for pid in order}
    allowances: dict[str, tuple[float, str]] = {}
    rounds = 0
    any_change = converted
    unused = _unused_initializers(working)
    for round_index in range(1, MAX_ROUNDS + 1):
        rounds = round_index
        changers: list[str] = []  # the passes that changed the graph in this round
        for pid in order:
            cls = get_pass(pid)
            ctx = PassContext(
                graph, options, pid, opsets, unused if not any_change else frozenset()
            )
            before = _signature(graph)
            opsets_before = dict(opsets)
            outcome = cls().run(ctx)
            stats[pid].applied += outcome.applied
            stats[pid].add_skips(outcome.skips)
            for message, count in ctx.notes.items():
                notes.append(f"{pid}: {message}" + (f" ({count}x)" if count > 1 else ""))
            for name, (atol, why) in outcome.allowances.items():
                if atol > allowances.get(name, (0.0, ""))[0]:
                    allowances[name] = (atol, why)
            if outcome.changed:
                graph.cleanup().toposort()
                structural = _signature(graph) != before or opsets != opsets_before
                if structural or outcome.attributes_changed:
                    changers.append(pid)
        if not changers:
            break
        any_change = True
    else:
        raise RuntimeError(
            f"rewrite passes {order} did not reach a fixed point in {MAX_ROUNDS} rounds "
            f"(still changing the graph in the last: {', '.join(changers)})"
        )
    if not any_change:
        return RewriteResult(proto, False, stats, rounds, notes)
    return RewriteResult(_export(graph, proto, opsets), True, stats, rounds, notes, allowances)


def _unused_initializers(proto: onnx.ModelProto) -> frozenset[str]:
    """The top-level initializers that no node (bodies and functions included) reads and
    that are no graph input or output."""
    names = {t.name for t in proto.graph.initializer}
    if not names:
        return frozenset()
    read = {name for node in iter_nodes(proto.graph.node) for name in node.input}
    for function in proto.functions:
        read.update(name for node in iter_nodes(function.node) for name in node.input)
    read.update(v.name for v in proto.graph.input)
    read.update(v.name for v in proto.graph.output)
    return frozenset(names - read)


def _export(graph: gs.Graph, original: onnx.ModelProto, opsets: dict[str, int]) -> onnx.ModelProto:
    graph.opset = opsets.get("", graph.opset)
    out = export_graph(graph)
    with_overridable_defaults(out, original)
    _keep_io_types(out, original)
    used = {n.domain for n in out.graph.node}
    for domain in used:
        key = "" if domain == "ai.onnx" else domain
        opsets.setdefault(key, 1)
    del out.opset_import[:]
    for domain, version in sorted(opsets.items()):
        out.opset_import.add(domain=domain, version=version)
    out.ir_version = max(original.ir_version, _min_ir_version(opsets))
    for name in ("producer_name", "producer_version", "domain", "model_version", "doc_string"):
        setattr(out, name, getattr(original, name))
    del out.metadata_props[:]
    out.metadata_props.extend(original.metadata_props)
    return out


def _keep_io_types(out: onnx.ModelProto, original: onnx.ModelProto) -> None:
    """Gives graph inputs/outputs what the export lost of the type they had under that name.

    * A non-tensor type: graphsurgeon models every value as a tensor or a sequence of
      tensors, so a map or a sequence of maps (ZipMap's output) comes back as
      `seq(undefined)`, which onnxruntime refuses to load ("Invalid tensor data type 0"); it
      gets its original type back (a type a pass set on purpose, a defined one, is left).
    * A shape: a pass that made a new tensor of the same name leaves it typed but unshaped,
      and onnx.checker requires a shape on every graph input and output. A rewrite keeps
      what the model computes, so a value of the same name and element type has the shape
      it had.
    """
    for mine, theirs in ((out.graph.input, original.graph.input),
                         (out.graph.output, original.graph.output)):  # fmt: skip
        types = {v.name: v.type for v in theirs}
        for value in mine:
            known = types.get(value.name)
            if known is None:
                continue
            if known.WhichOneof("value") != "tensor_type":
                if _undefined(value.type):
                    value.type.CopyFrom(known)
                continue
            tensor = value.type.tensor_type
            if (
                value.type.WhichOneof("value") == "tensor_type"
                and not tensor.HasField("shape")
                and known.tensor_type.HasField("shape")
                and tensor.elem_type == known.tensor_type.elem_type
            ):
                tensor.shape.CopyFrom(known.tensor_type.shape)


def _undefined(type_proto: onnx.TypeProto) -> bool:
    """True when the type, or the type inside a sequence/optional, has no element type."""
    kind = type_proto.WhichOneof("value")
    if kind in ("tensor_type", "sparse_tensor_type"):
        return getattr(type_proto, kind).elem_type == 0
    if kind in ("sequence_type", "optional_type"):
        inner = getattr(type_proto, kind)
        return not inner.HasField("elem_type") or _undefined(inner.elem_type)
    return kind is None
