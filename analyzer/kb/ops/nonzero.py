"""NonZero.

Source: onnx-tensorrt onnxOpImporters.cpp importNonZero (TensorRT 10 builds it through the
NonZero plugin creator from libnvinfer_plugin); observed with TensorRT-RTX 1.7: "NonZero plugin
creator version 1 was not found in plugin registry" — RTX ships no plugin library.
"""

from __future__ import annotations

from trtforge.analyzer.kb.rule import OpRule, Since

RULES = [
    OpRule(
        op="NonZero",
        source="onnxOpImporters.cpp importNonZero; TensorRT-RTX 1.7 parser (observed)",
        since=Since(
            trt=(8, 5),
            rtx=None,
            reason="needs the NonZero plugin, which TensorRT-RTX does not ship",
        ),
        data_dependent_shape=True,
        hint="avoid data-dependent shapes (e.g. replace masking with Where), or target TensorRT",
    )
]
