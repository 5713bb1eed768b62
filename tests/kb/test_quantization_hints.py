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


def test_scale_and_zero_point_findings_follow_their_values_shared_or_not():
    """The Q/DQ rules decide on a constant scale's being all positive and a zero point's
    having a nonzero element (read as analyses, so that nodes holding constants of their
    own share verdicts): on 40 DequantizeLinear layers with random scales (FLOAT, FLOAT16,
    BFLOAT16; positive, zero, negative, -0.0, NaN, inf; scalar or per channel) and zero
    points, each node's findings are what its values say, with and without the memo. The
    importer compares BFLOAT16 scales too (QuantDequantLinearHelper)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from trtforge.analyzer.backends import static
    from trtforge.analyzer.loading import load_model
    from trtforge.analyzer.targets import parse_target

    rng = np.random.default_rng(7)
    specials = [0.0, -0.0, -0.5, np.nan, np.inf, -np.inf]
    nodes, inits, expected, current = [], [], {}, "x"
    for i in range(40):
        kind = [TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16][i % 3]
        count = 1 if i % 2 else 4
        values = rng.uniform(0.01, 0.1, count)
        if rng.random() < 0.4:
            values[rng.integers(count)] = specials[rng.integers(len(specials))]
        scale = helper.make_tensor(f"s{i}", kind, [] if count == 1 else [count], values.tolist())
        zero = np.zeros(count, np.int8) if count > 1 else np.array(0, np.int8)
        if rng.random() < 0.2:
            zero.reshape(-1)[0] = 2
        inits += [
            scale,
            numpy_helper.from_array(zero, f"z{i}"),
            numpy_helper.from_array(rng.integers(-8, 8, (4, 4)).astype(np.int8), f"w{i}"),
        ]
        nodes += [
            helper.make_node("DequantizeLinear", [f"w{i}", f"s{i}", f"z{i}"], [f"d{i}"], name=f"d{i}", axis=1),
            helper.make_node("MatMul", [current, f"d{i}"], [f"m{i}"], name=f"m{i}"),
        ]  # fmt: skip
        current = f"m{i}"
        findings = set()
        if not all(
            v > 0 for v in values
        ):  # (0.01..0.1 and the specials keep their sign in 16 bits)
            findings.add("dequantizelinear/scale-not-positive")
        if np.any(zero != 0):
            findings.add("dequantizelinear/nonzero-zero-point")
        expected[f"d{i}"] = findings
    graph = helper.make_graph(
        nodes,
        "dq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, ["N", 4])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)
    assert any(expected.values()) and not all(expected.values())
    for memo in (True, False):
        report = static.check_static(load_model(model), parse_target("rtx-1"), memo=memo)
        found = {
            n.name: {r.code for r in n.reasons if r.code.startswith("dequantizelinear/")}
            for n in report.nodes
            if n.op_type == "DequantizeLinear"
        }
        assert found == expected
