"""NonZero.

Sources: onnx-tensorrt onnxOpImporters.cpp importNonZero (TensorRT builds it with the native
INonZeroLayer, input FLOAT/HALF/BF16/INT32/INT64/INT8/BOOL); docs/operators.md (NonZero: Y);
observed with the TensorRT-RTX 1.7.1 parser: "NonZero plugin creator version 1 was not found in
plugin registry" — TensorRT-RTX's parser imports NonZero through a plugin it does not ship.
"""

from __future__ import annotations

from trtforge.analyzer.kb.policy import FLOATS
from trtforge.analyzer.kb.rule import OpRule, Since

RULES = [
    OpRule(
        op="NonZero",
        source="onnxOpImporters.cpp importNonZero; TensorRT-RTX 1.7.1 parser (observed)",
        since=Since(
            trt=(8, 5),
            rtx=None,
            reason="TensorRT-RTX imports NonZero through a plugin it does not ship",
        ),
        types={0: FLOATS | {"DOUBLE", "INT32", "INT64", "INT8", "BOOL"}},
        data_dependent_shape=True,
        hint="avoid data-dependent shapes (e.g. replace masking with Where), or target TensorRT",
    )
]
