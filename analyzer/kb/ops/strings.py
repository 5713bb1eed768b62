"""String ops: none has an importer, and TensorRT tensors cannot hold strings.

Sources: onnx-tensorrt docs/operators.md (RegexFullMatch, StringConcat, StringNormalizer,
StringSplit, TfIdfVectorizer: N); observed with the TensorRT-RTX 1.7.1 parser (each fails; a
STRING graph input fails with "Failed to convert ONNX date type to TensorRT data type").
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._tensor_common import OBSERVED
from trtforge.analyzer.kb.rule import NEVER, OpRule

SOURCE = f"docs/operators.md (N); {OBSERVED} (no importer)"
HINT = "do text processing before the engine (tokenize on the host) and feed integer ids"

RULES = [
    OpRule(op=op, source=SOURCE, since=NEVER, hint=HINT)
    for op in ("RegexFullMatch", "StringConcat", "StringNormalizer", "StringSplit")
] + [
    OpRule(
        op="TfIdfVectorizer",
        source=SOURCE,
        since=NEVER,
        hint="compute n-gram features before the engine and feed them as a FLOAT tensor",
    )
]
