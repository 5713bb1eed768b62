"""Sequence and optional ops: none has an importer.

Sources: onnx-tensorrt docs/operators.md (SequenceAt, SequenceConstruct, SequenceEmpty,
SequenceErase, SequenceInsert, SequenceLength, SequenceMap, SplitToSequence,
ConcatFromSequence, Optional, OptionalGetElement, OptionalHasElement: N); observed with the
TensorRT-RTX 1.7.1 parser (each fails; sequence/optional-typed graph inputs fail with "Failed to
convert ONNX date type to TensorRT data type"). TensorRT tensors have no sequence or optional
type.
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._tensor_common import OBSERVED
from trtforge.analyzer.kb.rule import NEVER, OpRule

SOURCE = f"docs/operators.md (N); {OBSERVED} (no importer)"
SEQ_HINT = (
    "TensorRT has no sequence type: unroll the sequence into a fixed number of tensors "
    "(e.g. Split/Concat instead of SplitToSequence/ConcatFromSequence) when exporting"
)
OPT_HINT = (
    "TensorRT has no optional type: export the model with the optional value resolved "
    "(always present, or removed)"
)

RULES = [
    OpRule(op=op, source=SOURCE, since=NEVER, hint=SEQ_HINT)
    for op in (
        "ConcatFromSequence",
        "SequenceAt",
        "SequenceConstruct",
        "SequenceEmpty",
        "SequenceErase",
        "SequenceInsert",
        "SequenceLength",
        "SequenceMap",
        "SplitToSequence",
    )
] + [
    OpRule(op=op, source=SOURCE, since=NEVER, hint=OPT_HINT)
    for op in ("Optional", "OptionalGetElement", "OptionalHasElement")
]
