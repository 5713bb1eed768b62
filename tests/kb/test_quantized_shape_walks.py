"""The walks that find a quantized value in a shape input (`_tensor_common.
dequantized_int8_constant`, `unsqueezed_quantized_scalar`) look only where one can be found:
their answers are the full walks' on every tensor, and a quantized graph's shape-consuming
nodes still share their verdicts (the static backend asks the walks of each of them)."""

from __future__ import annotations

import onnx
import pytest
from oracle_cases_tensor import CASES
from oracle_cases_tensor import model as _model

from trtforge.analyzer.backends import static
from trtforge.analyzer.graph import GraphView
from trtforge.analyzer.inference import infer_types
from trtforge.analyzer.kb.ops import _tensor_common as tc
from trtforge.analyzer.loading import load_model
from trtforge.analyzer.targets import parse_target

QUANTIZED = [case for case in CASES if "Quantize" in case[1] or "qdq" in case[0]]


@pytest.mark.parametrize("case", QUANTIZED, ids=[case[0] for case in QUANTIZED])
def test_the_walks_answer_as_full_walks_do(case):
    _name, text, opset, domains = case[:4]
    model = _model(text, opset, domains)
    graph = GraphView(model.graph, infer_types(model))
    tensors = {n for node in model.graph.node for n in [*node.input, *node.output] if n}
    for tensor in sorted(tensors):
        assert tc.dequantized_int8_constant(graph, tensor) == tc._dequantized_int8_constant(
            graph, tensor, set(), tc._WALK_DEPTH
        ), tensor
        assert tc.unsqueezed_quantized_scalar(graph, tensor) == tc._extent_source(
            graph, tensor, {}, tc._WALK_DEPTH
        ), tensor


def test_the_cases_find_what_they_are_about():
    """(the equality above is not of two Nones only)"""
    found = 0
    for _name, text, opset, domains, *_ in QUANTIZED:
        model = _model(text, opset, domains)
        graph = GraphView(model.graph, infer_types(model))
        for node in model.graph.node:
            for tensor in node.output:
                found += tc.dequantized_int8_constant(graph, tensor) is not None
                found += tc.unsqueezed_quantized_scalar(graph, tensor) is not None
    assert found >= 4


def _quantized_reshapes(copies: int) -> onnx.ModelProto:
    """`copies` shape computations (Shape, Gather, Unsqueeze, Concat, Reshape), each of its
    own tensors, in a graph that also dequantizes an INT8 weight."""
    body = ["d = DequantizeLinear(w, sc, zp)", "y0 = MatMul(x, d)"]
    for k in range(copies):
        body += [
            f"s{k} = Shape(y{k})", f"g{k} = Gather<axis=0>(s{k}, zero)",
            f"u{k} = Unsqueeze(g{k}, ax)", f"c{k} = Concat<axis=0>(u{k}, rest)",
            f"y{k + 1} = Reshape(y{k}, c{k})",
        ]  # fmt: skip
    text = (
        f"g (float[N,8] x) => (float[?,8] y{copies}) <float sc = {{1}}, int8 zp = {{0}}, "
        "int8[8,8] w = {" + ",".join(["1"] * 64) + "}, int64 zero = {0}, int64[1] ax = {0}, "
        "int64[1] rest = {8}> { " + " ".join(body) + " }"
    )
    return _model(text, 17)


def test_shape_inputs_of_a_quantized_graph_share_their_verdicts(monkeypatch):
    """Work, not time: 60 Reshapes of their own shape computations in a graph with a
    DequantizeLinear are judged a few times, not 60 (the walks were read as reads of the
    whole graph, and each node was judged on its own)."""
    model = _quantized_reshapes(60)
    judged = []
    real = static.StaticChecker._judge

    def spy(self, node, graph, *args):
        judged.append(node.op_type)
        return real(self, node, graph, *args)

    monkeypatch.setattr(static.StaticChecker, "_judge", spy)
    report = static.check_static(load_model(model), parse_target("rtx-1"))
    assert report.supported
    assert judged.count("Reshape") <= 3 and judged.count("Concat") <= 3, judged
