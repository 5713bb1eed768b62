"""Where, Trilu, OneHot, ReverseSequence, Compress.

Sources: onnx-tensorrt docs/operators.md (10.x rows: OneHot "`depth` must be a build-time
constant"; Compress: N) and onnxOpImporters.cpp (importWhere, importTrilu: rank >= 2,
importOneHot, importReverseSequence: rank >= 2, batch_axis != time_axis; UINT8 refused by
each); observed with the TensorRT-RTX 1.7.1 parser:
- Where needs a BOOL condition ("condition input has type Int32 but must have type Bool").
- OneHot `depth` may be an integer network input or computed from shapes, but a FLOAT depth
  network input fails while TensorRT computes the output shape.
- Trilu `k` may be a network input; ReverseSequence accepts dynamic dims.
- Compress has no importer (its output shape depends on the condition's values).
- Where broadcasts its three inputs like the elementwise ops: known dims that do not broadcast
  fail ("broadcast dimensions must be conformable").
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._tensor_common import (
    INDEX,
    OBSERVED,
    OPSRC,
    TENSOR,
    float_value_input,
    shape_input,
)
from trtforge.analyzer.kb.ops.elementwise_binary import check_broadcast
from trtforge.analyzer.kb.rule import NEVER, NodeContext, OpRule


def _rank_at_least_2(ctx: NodeContext):
    info = ctx.input(0)
    if info is not None and info.rank is not None and info.rank < 2:
        yield ctx.finding(
            "rank",
            f"input must have at least 2 dims (rank {info.rank})",
            "unsqueeze the input to 2-D around the op",
        )


def _check_reverse_sequence(ctx: NodeContext):
    yield from _rank_at_least_2(ctx)
    if ctx.attr_int("batch_axis", 1) == ctx.attr_int("time_axis", 0):
        yield ctx.finding(
            "axes",
            "batch_axis and time_axis must differ",
            "re-export with distinct batch and time axes",
        )


def _check_one_hot(ctx: NodeContext):
    finding = float_value_input(ctx, 1, "depth") or shape_input(ctx, 1, "depth")
    if finding is not None:
        yield finding


RULES = [
    OpRule(
        op="Where",
        source=f"{OPSRC} importWhere; docs/operators.md (Where); {OBSERVED}",
        types={0: {"BOOL"}, 1: TENSOR, 2: TENSOR},
        check=check_broadcast,
    ),
    OpRule(
        op="Trilu",
        empty_inputs_refused=frozenset({1}),  # observed, TensorRT-RTX 1.7.1
        source=f"{OPSRC} importTrilu; docs/operators.md (Trilu); {OBSERVED}",
        types={0: TENSOR, 1: INDEX},
        check=_rank_at_least_2,
    ),
    OpRule(
        op="OneHot",
        source=f"{OPSRC} importOneHot; docs/operators.md (OneHot); {OBSERVED}",
        types={"*": TENSOR},
        check=_check_one_hot,
    ),
    OpRule(
        op="ReverseSequence",
        source=f"{OPSRC} importReverseSequence; docs/operators.md (ReverseSequence); {OBSERVED}",
        types={0: TENSOR, 1: INDEX},
        check=_check_reverse_sequence,
    ),
    OpRule(
        op="Compress",
        source=f"docs/operators.md (Compress: N); {OBSERVED} (no importer)",
        since=NEVER,
        data_dependent_shape=True,
        hint="replace Compress with a static-shape mask (Where / Mul), or gather with indices "
        "computed outside the engine",
    ),
]
