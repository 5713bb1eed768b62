"""Findings on QDQ models name the quantizer settings that give QDQ TensorRT takes: onnxruntime's
default static quantization (asymmetric activations, INT32 biases) is refused by the parser."""

from __future__ import annotations

import onnx.parser

from trtforge.analyzer import check


def _dq(data: str, zero_point: str) -> onnx.ModelProto:
    return onnx.parser.parse_model(f"""<ir_version: 8, opset_import: ["" : 13]>
    g (float[4] x) => (float[4] y) <{data} q = {{1, 2, 3, 4}}, float s = {{0.5}}, {zero_point}> {{
        w = DequantizeLinear(q, s, z)
        y = Add(x, w)
    }}""")


def _errors(model):
    report = check(model, target="rtx-1", backend="static")
    return [f for n in report.nodes for f in n.errors]


def test_int32_bias_names_the_quantizer_option():
    findings = _errors(_dq("int32[4]", "int32 z = {0}"))
    assert {f.code for f in findings} == {"unsupported-dtype"}
    assert all("'QuantizeBias': False" in f.hint for f in findings)


def test_asymmetric_zero_point_names_the_symmetric_options():
    (finding,) = _errors(_dq("int8[4]", "int8 z = {3}"))
    assert finding.code == "dequantizelinear/nonzero-zero-point"
    assert "'ActivationSymmetric': True" in finding.hint


def test_symmetric_int8_parses():
    assert not _errors(_dq("int8[4]", "int8 z = {0}"))
