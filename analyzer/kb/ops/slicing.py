"""Concat, Split, Slice, Pad, Tile, Expand.

Sources: onnx-tensorrt docs/operators.md (10.x rows) and onnxOpImporters.cpp (importConcat,
importSplit, importSlice, importPad, importTile, importExpand: each refuses UINT8 data through
`notInvalidType`); observed with the TensorRT-RTX 1.7.1 parser:
- Slice `starts`/`ends`/`axes`/`steps`, Pad `pads`/`constant_value`/`axes`, Tile `repeats`,
  Expand `shape` and Split `split` may all be network inputs (shape tensors); none needs to be
  an initializer any more (older operators.md rows said Slice/Pad axes must be).
- Pad modes constant, reflect, edge and wrap are all accepted; BOOL and INT64 data too.
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._tensor_common import INDEX, OBSERVED, OPSRC, TENSOR
from trtforge.analyzer.kb.rule import AttrLimit, NodeContext, OpRule


def _check_split(ctx: NodeContext):
    # importSplit: opset 18 `num_outputs` must match the node's outputs.
    n = ctx.attr("num_outputs")
    if n is not None and ctx.opset >= 18 and int(n) != len(ctx.node.output):
        yield ctx.finding(
            "num-outputs",
            f"num_outputs={n} does not match the node's {len(ctx.node.output)} outputs",
            "re-export the model; the exporter produced an inconsistent Split",
        )


RULES = [
    OpRule(
        op="Concat",
        source=f"{OPSRC} importConcat; docs/operators.md (Concat); {OBSERVED}",
        types={"*": TENSOR},
    ),
    OpRule(
        op="Split",
        source=f"{OPSRC} importSplit; docs/operators.md (Split); {OBSERVED}",
        types={0: TENSOR, 1: INDEX},
        check=_check_split,
    ),
    OpRule(
        op="Slice",
        source=f"{OPSRC} importSlice; docs/operators.md (Slice); {OBSERVED}",
        types={0: TENSOR, 1: INDEX, 2: INDEX, 3: INDEX, 4: INDEX},
    ),
    OpRule(
        op="Pad",
        source=f"{OPSRC} importPad; docs/operators.md (Pad); {OBSERVED}",
        types={0: TENSOR, 1: INDEX, 2: TENSOR, 3: INDEX},
        attrs=(
            AttrLimit(
                "mode",
                allowed={"constant", "reflect", "edge", "wrap"},
                default="constant",
                hint="use one of constant, reflect, edge or wrap",
            ),
        ),
    ),
    OpRule(
        op="Tile",
        source=f"{OPSRC} importTile; docs/operators.md (Tile); {OBSERVED}",
        types={0: TENSOR, 1: INDEX},
    ),
    OpRule(
        op="Expand",
        source=f"{OPSRC} importExpand; docs/operators.md (Expand); {OBSERVED}",
        types={0: TENSOR, 1: INDEX},
    ),
]
