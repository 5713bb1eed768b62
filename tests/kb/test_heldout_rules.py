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
