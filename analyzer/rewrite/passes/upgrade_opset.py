"""upgrade-opset: convert the model to a newer default-domain opset (onnx's version converter).

Every TensorRT parser rejects elementwise broadcasting below opset 7 ("Pre-opset 7 broadcasting
is unsupported"), which is how the PyTorch-converted models the onnx wheel ships fail; and
fusions whose output op arrived late (Gelu: 20, LayerNormalization: 17) leave a model of an
older opset as it was. The version converter rewrites every node to the new opset's schema
(the `broadcast` attribute becomes implicit broadcasting, attributes that became inputs become
initializers, ...); the result is verified like any other rewrite.

Before::

    opset_import: ["" : 6]
    y = Add<broadcast = 1>(x, b)

After (`--upgrade-opset 17`, the default when `--auto` applies it)::

    opset_import: ["" : 17]
    y = Add(x, b)

Opset 7 also changed PRelu: its 1-D slope of C values was per channel (axis 1) and became
numpy-broadcast against the LAST axis, which the version converter leaves as it was (a [C] slope
on an [N, C, H, W] input then no longer broadcasts, or worse, silently applies per column).
Below opset 7 the pass first reshapes such a slope to [C, 1, ..., 1] (a constant in place, a
computed slope through a Reshape).

Skips (reported): a model already at (or above) the opset asked for; a model the converter
cannot convert (the converter's error is the reason); a default-domain node named like an op
onnx defines only later that does not fit that op's schema (a custom op exported without a
domain: converting would make it onnx's op) — with `--upgrade-opset N` given explicitly,
these are errors (exit 2) rather than skips.
"""

from __future__ import annotations

import logging

from trtforge.analyzer.errors import UserError, short
from trtforge.analyzer.kb.fixability import UPGRADE_DEFAULT
from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import (
    PassContext,
    PassOption,
    PassOutcome,
    RewritePass,
    Skip,
)
from trtforge.analyzer.rewrite.graphutil import export_graph, import_graph, is_lazy_external

onnx = lazy_import("onnx")
gs = lazy_import("onnx_graphsurgeon")

log = logging.getLogger("trtforge.rewrite")


class UpgradeOpset(RewritePass):
    """Converts the model to a newer default-domain opset with onnx's version converter."""

    id = "upgrade-opset"
    summary = (
        f"convert the model to opset N with onnx's version converter (default {UPGRADE_DEFAULT}; "
        "pre-opset-7 models, fusions needing a newer opset)"
    )
    order = 0
    options = (
        PassOption(
            "upgrade_opset",
            0,
            f"--upgrade-opset N: run upgrade-opset, converting to opset N (under --auto the pass "
            f"converts to {UPGRADE_DEFAULT})",
            type=int,
        ),
    )

    def run(self, ctx: PassContext) -> PassOutcome:
        wanted = ctx.options.upgrade_opset
        current = ctx.opset
        late = _late_nodes(ctx.graph, current)
        target = int(wanted or max(UPGRADE_DEFAULT, first_opset({n.op for n in late}, current)))
        if current >= target:
            return PassOutcome()
        from trtforge.analyzer.opset_conversion import convert_version

        if current < 7:
            _channel_slopes(ctx.graph)
        for node in late:  # the converter has no schema for them: it carries them over as they are
            node.domain = _LATE
        model = export_graph(ctx.graph)
        for node in late:
            node.domain = ""
        del model.opset_import[:]
        for domain, version in sorted({**ctx.opsets, _LATE: 1}.items()):
            model.opset_import.add(domain=domain, version=version)
        # The converter looks up every node input among the graph inputs, as IR < 4 had it:
        # list the initializers there for it, and take them out again afterwards.
        declared = {i.name for i in model.graph.input}
        added = [t for t in model.graph.initializer if t.name not in declared]
        model.graph.input.extend(
            onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in added
        )
        try:
            converted = convert_version(model, target)
            keep = [i for i in converted.graph.input if i.name not in {t.name for t in added}]
            del converted.graph.input[:]
            converted.graph.input.extend(keep)
            for node in converted.graph.node:
                if node.domain == _LATE:
                    node.domain = ""
            kept = [o for o in converted.opset_import if o.domain != _LATE]
            del converted.opset_import[:]
            converted.opset_import.extend(kept)
            foreign = not_onnx_nodes(converted, {n.op for n in late}, target)
        except Exception as err:  # noqa: BLE001 - the converter raises many kinds
            reason = (
                f"onnx's version converter cannot convert opset {current} to {target} "
                f"({type(err).__name__}: {str(err).splitlines()[0][:160]})"
            )
            if wanted:
                raise UserError(
                    reason, "try a nearer opset (--upgrade-opset N), or re-export the model"
                ) from None
            return PassOutcome(skips=[Skip(f"opset {current}", reason)])
        if foreign:  # converting would make them onnx's op of that name, which they are not
            reason = (
                f"{foreign}; converting to opset {target} would make it onnx's "
                f"{foreign.split(' ')[0]}, which it is not (a custom op exported without a domain)"
            )
            if wanted:
                raise UserError(reason, "give the op its own domain in the exporter")
            return PassOutcome(skips=[Skip(f"opset {current}", reason)])
        new = import_graph(converted)
        graph = ctx.graph
        graph.nodes = new.nodes
        graph.inputs = new.inputs
        graph.outputs = new.outputs
        graph.opset = target
        ctx.opsets[""] = target
        log.info("upgrade-opset: converted opset %d to %d", current, target)
        return PassOutcome(applied=1, changed=True)


#: the domain the converter sees ops of a later opset in (it would reject them in the default one)
_LATE = "trtforge.later-opset"


def _late_nodes(graph: gs.Graph, current: int) -> list:
    """Default-domain nodes onnx defines only from a later opset than `current`: onnxruntime's
    own registrations (LayerNormalization below opset 17, written by its transformer
    optimizer). They need no conversion: at the opset where onnx defines them, they are valid."""
    return [
        n
        for n in graph.nodes
        if (n.domain or "") in ("", "ai.onnx")
        and onnx.defs.has(n.op)
        and not defined_at(n.op, current)
    ]


def not_onnx_nodes(model, late: set[str], version: int) -> str:
    """The first node of a `late` op type that onnx's schema at `version` refuses (input or
    output count, attributes: `onnx.checker.check_node`), described; "" when there is none.
    A default-domain node named like an op onnx added later is that op only if it fits its
    schema: onnxruntime's LayerNormalization does, a custom `Attention` with two inputs does
    not (onnx's Attention-23 takes Q, K and V)."""
    if not late:
        return ""
    context = onnx.checker.C.CheckerContext()
    context.ir_version = model.ir_version
    context.opset_imports = {"": version}
    for node in model.graph.node:
        if node.op_type in late and node.domain in ("", "ai.onnx"):
            unnamed = onnx.NodeProto()
            unnamed.CopyFrom(node)
            unnamed.name = ""  # onnx's message quotes the name, cut at a NUL byte
            try:
                onnx.checker.check_node(unnamed, context)
            except onnx.checker.ValidationError as err:
                why = str(err).strip().splitlines()[0].removeprefix("Node()").strip()[:160]
                return (
                    f"{node.op_type} node '{short(node.name)}' does not fit onnx's "
                    f"{node.op_type}-{version} ({why})"
                )
    return ""


def first_opset(ops: set[str], current: int) -> int:
    """The first opset above `current` at which onnx defines every op of `ops` (0: none)."""
    newest = onnx.defs.onnx_opset_version()
    return max(
        (next((v for v in range(current + 1, newest + 1) if defined_at(op, v)), 0) for op in ops),
        default=0,
    )


def defined_at(op: str, version: int) -> bool:
    try:
        onnx.defs.get_schema(op, max_inclusive_version=version)
    except onnx.defs.SchemaError:
        return False
    return True


def _channel_slopes(graph: gs.Graph) -> None:
    """Makes each pre-opset-7 PRelu's per-channel 1-D slope [C] explicit as [C, 1, ..., 1] for
    an input of known rank >= 3 (at rank 2 the channel axis is the last one: unchanged)."""
    import numpy as np

    for node in [n for n in graph.nodes if n.op == "PRelu" and len(n.inputs) == 2]:
        x, slope = node.inputs
        rank = len(x.shape) if x.shape is not None else None
        if rank is None or rank < 3 or slope.shape is None or len(slope.shape) != 1:
            continue
        if slope.shape[0] == 1:
            continue  # one value for every element: broadcasts the same under both rules
        trailing = [1] * (rank - 2)
        if isinstance(slope, gs.Constant) and not is_lazy_external(slope):
            values = np.asarray(slope.values)  # (external slopes: reshaped by a node below)
            node.inputs[1] = gs.Constant(
                f"{slope.name}/per_channel", values.reshape(values.shape[0], *trailing)
            )
            continue
        shape = gs.Constant(f"{slope.name}/per_channel_shape", np.array([-1, *trailing], np.int64))
        out = gs.Variable(f"{slope.name}/per_channel", dtype=slope.dtype)
        graph.nodes.append(gs.Node("Reshape", inputs=[slope, shape], outputs=[out]))
        node.inputs[1] = out


PASS = UpgradeOpset
