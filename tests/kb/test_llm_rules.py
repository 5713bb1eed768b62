"""Contrib ops of LLM exports and the weight-only INT4 form: static verdicts on the fixtures of
`oracle_cases_llm.py`, and the same models through TensorRT-RTX's parser where it is
installed (one subprocess for all of them).
"""

from __future__ import annotations

import pytest
from _oracle import HAS_RTX, assert_refused, assert_supported, parse_models
from oracle_cases_llm import CASES, Case

from trtforge.analyzer import check


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_static_verdict(case: Case) -> None:
    report = check(case.model, target=case.target, backend="static")
    verdict = report.nodes[-1]
    if case.code is None:
        assert_supported(report, case.id)
    else:
        assert_refused(verdict, case.id, case.code, sourced=case.code != "custom-domain-op")


@pytest.mark.parametrize("target", ["trt-10", "trt-11"])
def test_contrib_ops_unsupported_on_tensorrt(target: str) -> None:
    """The open-source parser has no importer for these contrib ops (com.microsoft, or
    onnxruntime's default-domain SimplifiedLayerNormalization): unsupported there; the INT4
    weight-only form is supported."""
    for case in CASES:
        if "negative-scales" in case.id:
            continue  # the open-source parser refuses nonpositive scales (INT4 too)
        report = check(case.model, target=target, backend="static")
        contrib = any(
            n.op_type not in ("DequantizeLinear", "MatMul", "Gather") for n in case.model.graph.node
        )
        assert report.supported != contrib, (case.id, [n.errors for n in report.nodes])


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
