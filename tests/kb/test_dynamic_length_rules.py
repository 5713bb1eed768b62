"""1-D value inputs of dynamic (symbolic) length, found with the held-out `alldyn` variant:
Resize/Upsample FLOAT `scales` of dynamic length parse (of static length they do not), and a
TopK `K` of dynamic length crashes the TensorRT-RTX parser. Static verdicts here, and the same
models through TensorRT-RTX's parser where it is installed.
"""

from __future__ import annotations

import onnx
import onnx.parser
import pytest
from _oracle import HAS_RTX, parse_models

from trtforge.analyzer import check


def _model(text: str, opset: int) -> onnx.ModelProto:
    return onnx.parser.parse_model(f'<ir_version: 10, opset_import: ["": {opset}]>\n{text}')


def _resize(length: str, computed: bool, op: str = "Resize") -> onnx.ModelProto:
    scales = "s2" if computed else "sc"
    args = f"x, , {scales}" if op == "Resize" else f"x, {scales}"
    prelude = "s2 = Mul(sc, sc) " if computed else ""
    return _model(
        f"g (float[N,1,4,4] x, float[{length}] sc) => (float y) "
        f'{{ {prelude}y = {op}<mode="nearest">({args}) }}',
        19 if op == "Resize" else 9,
    )


def _topk(k_shape: str) -> onnx.ModelProto:
    return _model(
        f"g (float[3,4] x, int64{k_shape} k) => (float v, int64 i) {{ v, i = TopK<axis=1>(x, k) }}",
        11,
    )


#: (id, model, parses with TensorRT-RTX 1.7.1)
CASES = [
    *[
        (
            f"{op}-scales-{tag}-{'computed' if computed else 'input'}",
            _resize(length, computed, op),
            ok,
        )
        for op in ("Resize", "Upsample")
        for length, tag, ok in (("k", "dynlen", True), ("4", "statlen", False))
        for computed in (False, True)
    ],
    ("TopK-k-dynlen", _topk("[kk]"), False),
    ("TopK-k-len1", _topk("[1]"), True),
    ("TopK-k-scalar", _topk(""), True),
]


@pytest.mark.parametrize(("case_id", "model", "parses"), CASES, ids=[c[0] for c in CASES])
def test_static_verdict_on_rtx(case_id, model, parses):
    report = check(model, target="rtx-1", backend="static")
    assert report.supported == parses, [
        (n.op_type, [f.code for f in n.errors]) for n in report.nodes
    ]
    if case_id == "TopK-k-dynlen":
        (finding,) = report.nodes[0].errors
        assert finding.code == "topk/k-dynamic-length"
        assert "crashes" in finding.message and finding.hint


def test_topk_k_dynamic_length_is_a_warning_on_tensorrt():
    """Seen with the RTX parser only: on TensorRT targets it is said, as a warning."""
    report = check(_topk("[kk]"), target="trt-10", backend="static")
    assert report.supported
    (finding,) = report.nodes[0].reasons
    assert finding.code == "topk/k-dynamic-length" and finding.severity == "warning"
    assert "not verified with TensorRT" in finding.message


@pytest.mark.skipif(not HAS_RTX, reason="needs tensorrt_rtx")
def test_rtx_parser_agrees():
    results = parse_models({case_id: model for case_id, model, _ in CASES})
    wrong = {
        case_id: results[case_id] for case_id, _, parses in CASES if results[case_id].ok != parses
    }
    assert not wrong, wrong
