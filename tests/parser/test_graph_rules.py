"""Graph-level checks (kb/graph_rules.py), and their agreement with the real parser."""

from __future__ import annotations

import onnx
import pytest
from _parser_helpers import requires_parser, save_text_model
from onnx import TensorProto, helper

from trtforge.analyzer.api import check
from trtforge.analyzer.kb.graph_rules import input_types
from trtforge.analyzer.targets import parse_target


def _identity(dtype: int, shape=(4,), opset: int = 21) -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", dtype, list(shape) if shape is not None else None)],
        [helper.make_tensor_value_info("y", dtype, list(shape) if shape is not None else None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    return model


def _graph_codes(report) -> dict[str, str]:
    return {f.code: f.severity for f in report.graph_findings}


@pytest.mark.parametrize("dtype", ["INT16", "UINT16", "UINT32", "UINT64", "STRING", "COMPLEX64"])
def test_input_without_a_tensorrt_type_fails_the_model(dtype):
    report = check(_identity(getattr(TensorProto, dtype)), target="rtx-1", backend="static")
    assert _graph_codes(report).get("graph/input-dtype") == "error"
    assert report.supported is False
    finding = next(f for f in report.graph_findings if f.code == "graph/input-dtype")
    assert dtype in finding.message and finding.hint and finding.source


def test_double_input_is_a_warning_only():
    report = check(_identity(TensorProto.DOUBLE), target="rtx-1", backend="static")
    assert _graph_codes(report) == {"graph/input-double": "warning"}


def test_fp4_input_needs_tensorrt_10_8():
    assert "FLOAT4E2M1" in input_types(parse_target("rtx-1"))
    assert "FLOAT4E2M1" in input_types(parse_target("trt-10.8"))
    assert "FLOAT4E2M1" not in input_types(parse_target("trt-10.7"))


def test_sequence_input_fails_the_model(tmp_path):
    path = save_text_model(
        tmp_path,
        """
        <ir_version: 8, opset_import: ["" : 17]>
        g (seq(float[2]) s) => (int64 n) { n = SequenceLength(s) }
        """,
    )
    report = check(path, target="rtx-1", backend="static")
    assert _graph_codes(report).get("graph/input-not-tensor") == "error"


def test_dynamic_and_unknown_rank_inputs_warn():
    dynamic = check(_identity(TensorProto.FLOAT, ("N", 3)), target="rtx-1", backend="static")
    finding = next(f for f in dynamic.graph_findings if f.code == "graph/dynamic-input")
    assert finding.severity == "warning" and "N" in finding.message
    assert "profile" in finding.message
    unknown = check(_identity(TensorProto.FLOAT, None), target="rtx-1", backend="static")
    assert _graph_codes(unknown).get("graph/input-unknown-rank") == "warning"
    static = check(_identity(TensorProto.FLOAT, (2, 3)), target="rtx-1", backend="static")
    assert _graph_codes(static) == {}


def test_old_opset_warns_but_does_not_fail():
    report = check(_identity(TensorProto.FLOAT, opset=6), target="rtx-1", backend="static")
    assert _graph_codes(report).get("graph/old-opset") == "warning"
    assert not any(f.is_error for f in report.graph_findings)


def test_initializer_listed_as_input_is_not_a_network_input():
    model = _identity(TensorProto.FLOAT)
    model.graph.initializer.append(helper.make_tensor("w", TensorProto.UINT16, [1], [1]))
    model.graph.input.append(helper.make_tensor_value_info("w", TensorProto.UINT16, [1]))
    report = check(model, target="rtx-1", backend="static")
    assert "graph/input-dtype" not in _graph_codes(report)


INPUT_TYPES = [
    "FLOAT", "FLOAT16", "BFLOAT16", "DOUBLE", "INT32", "INT64", "INT8", "UINT8", "BOOL",
    "FLOAT8E4M3FN", "INT4", "FLOAT4E2M1", "INT16", "UINT16", "UINT32", "UINT64", "STRING",
    "COMPLEX64", "FLOAT8E5M2", "FLOAT8E4M3FNUZ", "UINT4",
]  # fmt: skip


@requires_parser
@pytest.mark.parser
def test_input_types_agree_with_the_parser(tmp_path):
    """Each input type: the static graph verdict equals the parser's (one parse per type)."""
    from trtforge.analyzer import trt
    from trtforge.analyzer.backends.parser import ParserPool

    paths = {}
    for name in INPUT_TYPES:
        path = tmp_path / f"{name}.onnx"
        onnx.save(_identity(getattr(TensorProto, name)), path)
        paths[name] = path
    with ParserPool(2) as pool:
        results = pool.run(paths.values())
    target = trt.target()
    disagree = []
    for name, path in paths.items():
        parser_ok = not results[str(path)].graph_errors
        static_ok = "graph/input-dtype" not in _graph_codes(
            check(path, target=target, backend="static")
        )
        if parser_ok != static_ok:
            disagree.append(f"{name}: parser {parser_ok}, static {static_ok}")
    assert not disagree, disagree


def test_input_of_rank_above_8_fails_the_model():
    nine = check(_identity(TensorProto.FLOAT, (1,) * 9), target="rtx-1", backend="static")
    assert _graph_codes(nine).get("graph/input-rank") == "error"
    eight = check(_identity(TensorProto.FLOAT, (1,) * 8), target="rtx-1", backend="static")
    assert "graph/input-rank" not in _graph_codes(eight)


@requires_parser
@pytest.mark.parser
def test_input_rank_limit_agrees_with_the_parser(tmp_path):
    from trtforge.analyzer.backends.parser import ParserPool

    paths = []
    for rank in (8, 9):
        path = tmp_path / f"rank{rank}.onnx"
        onnx.save(_identity(TensorProto.FLOAT, (1,) * rank), path)
        paths.append(path)
    with ParserPool(1) as pool:
        results = pool.run(paths)
    assert not results[str(paths[0])].graph_errors
    assert results[str(paths[1])].graph_errors[0]["func"] == "importInput"
