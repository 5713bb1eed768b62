"""Rules found by the held-out corpus variants: static verdicts on the fixtures of
`oracle_cases_heldout.py`, and the same models through TensorRT-RTX's parser where it is
installed (one subprocess for all of them).
"""

from __future__ import annotations

import pytest
from _oracle import HAS_RTX, assert_refused, assert_supported, parse_models
from oracle_cases_heldout import CASES, Case

from trtforge.analyzer import check


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_static_verdict(case: Case) -> None:
    report = check(case.model, target=case.target, backend="static")
    verdict = report.nodes[-1]
    if case.code is None:
        assert_supported(report, case.id)
    else:
        assert_refused(verdict, case.id, case.code, sourced=True)


@pytest.mark.parametrize("target", ["trt-10", "trt-11"])
def test_same_verdict_on_tensorrt_targets(target: str) -> None:
    """These are facts of the open-source parser and TensorRT's layers, not of RTX: the
    TensorRT targets give the same verdicts where the op is available there."""
    wrong = []
    checked = 0
    for case in CASES:
        report = check(case.model, target=target, backend="static")
        codes = [f.code for n in report.nodes for f in n.errors]
        if "not-available" in codes:
            continue  # e.g. TensorScatter before TensorRT 11
        checked += 1
        if (case.code is None) != report.supported or (case.code and case.code not in codes):
            wrong.append(f"{case.id}: {codes}")
    assert not wrong, wrong
    assert checked > len(CASES) * 0.9


@pytest.mark.skipif(not HAS_RTX, reason="needs tensorrt_rtx")
def test_cases_agree_with_parser() -> None:
    results = parse_models({c.id: c.model for c in CASES})
    wrong = [
        f"{c.id}: expected {'ok' if c.code is None else c.code}, parser "
        f"{'ok' if results[c.id].ok else results[c.id].errors[:1]}"
        for c in CASES
        if results[c.id].ok != (c.code is None)
    ]
    assert not wrong, "\n".join(wrong)


def test_an_empty_initializer_in_an_external_file_is_unsupported(tmp_path) -> None:
    """onnx.save(..., size_threshold=0) writes a tensor of no element externally (offset 0,
    length 0): the parser fails to import it; the same tensor inline parses."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Concat", ["x", "empty"], ["y"], axis=0)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [numpy_helper.from_array(np.zeros((0, 4), np.float32), "empty")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    inline = tmp_path / "inline.onnx"
    onnx.save(model, inline)
    external = tmp_path / "external.onnx"
    onnx.save(model, external, save_as_external_data=True, size_threshold=0, location="w.data")
    codes = lambda path: {  # noqa: E731
        f.code for f in check(str(path), target="rtx-1", backend="static").graph_findings
    }
    assert "graph/empty-external-initializer" in codes(external)
    assert "graph/empty-external-initializer" not in codes(inline)
