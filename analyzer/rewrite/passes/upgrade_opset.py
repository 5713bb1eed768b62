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

Skips (reported): a model already at (or above) the opset asked for; a model the converter
cannot convert (the converter's error is the reason) — with `--upgrade-opset N` given
explicitly, that is an error (exit 2) rather than a skip.
"""

from __future__ import annotations

import logging

from trtforge.analyzer.errors import UserError
from trtforge.analyzer.kb.fixability import UPGRADE_DEFAULT
from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import (
    PassContext,
    PassOption,
    PassOutcome,
    RewritePass,
    Skip,
)

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
        target = int(wanted or UPGRADE_DEFAULT)
        current = ctx.opset
        if current >= target:
            return PassOutcome()
        from onnx import version_converter

        model = gs.export_onnx(ctx.graph, do_type_check=False)
        del model.opset_import[:]
        for domain, version in sorted(ctx.opsets.items()):
            model.opset_import.add(domain=domain, version=version)
        # The converter looks up every node input among the graph inputs, as IR < 4 had it:
        # list the initializers there for it, and take them out again afterwards.
        declared = {i.name for i in model.graph.input}
        added = [t for t in model.graph.initializer if t.name not in declared]
        model.graph.input.extend(
            onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in added
        )
        try:
            converted = version_converter.convert_version(model, target)
            keep = [i for i in converted.graph.input if i.name not in {t.name for t in added}]
            del converted.graph.input[:]
            converted.graph.input.extend(keep)
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
        new = gs.import_onnx(converted)
        graph = ctx.graph
        graph.nodes = new.nodes
        graph.inputs = new.inputs
        graph.outputs = new.outputs
        graph.opset = target
        ctx.opsets[""] = target
        log.info("upgrade-opset: converted opset %d to %d", current, target)
        return PassOutcome(applied=1, changed=True)


PASS = UpgradeOpset
