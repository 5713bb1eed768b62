"""Compute-op rules (elementwise … signal): static verdicts on the fixtures of
`oracle_cases_compute.py`, and the same models through TensorRT-RTX's parser where it is
installed (one subprocess for all of them).
"""

from __future__ import annotations

import pytest
from _oracle import HAS_RTX, assert_refused, parse_models
from oracle_cases_compute import CASES, CHAIN_CASES, TARGET_CASES, Case

from trtforge.analyzer import check


def _verdict(case: Case):
    report = check(case.model, target=case.target, backend="static")
    assert len(report.nodes) == 1
    return report.nodes[0]


@pytest.mark.parametrize("case", CASES + TARGET_CASES, ids=lambda c: c.id)
def test_static_verdict(case: Case) -> None:
    verdict = _verdict(case)
    codes = [f.code for f in verdict.errors]
    if case.code is None:
        assert verdict.ok, f"{case.id}: expected supported, got {codes}: " + "; ".join(
            f.message for f in verdict.errors
        )
    elif verdict.status == "plugin":
        # the importer asks for a plugin trtforge declares (analyzer/plugin_lookup.py): the bare
        # parser refuses the node (case.code), the report names the plugin that serves it
        assert case.code == "not-available" and verdict.plugin is not None, (
            f"{case.id}: expected {case.code}, got plugin {verdict.plugin}"
        )
    else:
        assert_refused(verdict, case.id, case.code)


@pytest.mark.skipif(not HAS_RTX, reason="needs tensorrt_rtx")
def test_rtx_cases_agree_with_parser() -> None:
    """The same models through TensorRT-RTX's parser: the static verdict must match."""
    results = parse_models({c.id: c.model for c in CASES})
    disagreements = []
    for case in CASES:
        parsed = results[case.id]
        expected_ok = case.code is None
        if parsed.ok != expected_ok:
            disagreements.append(
                f"{case.id}: static {'ok' if expected_ok else case.code}, parser "
                f"{'ok' if parsed.ok else parsed.errors[:1]}"
            )
    assert not disagreements, "\n".join(disagreements)


@pytest.mark.parametrize("case", CHAIN_CASES, ids=lambda c: c[0])
def test_chain_verdict(case) -> None:
    _, model, index, code = case
    report = check(model, target="rtx-1", backend="static")
    verdict = report.nodes[index]
    codes = [f.code for f in verdict.errors]
    if code is None:
        assert verdict.ok, codes
    else:
        assert code in codes and not verdict.ok


@pytest.mark.skipif(not HAS_RTX, reason="needs tensorrt_rtx")
def test_chain_cases_agree_with_parser() -> None:
    results = parse_models({c[0]: c[1] for c in CHAIN_CASES})
    wrong = [c[0] for c in CHAIN_CASES if results[c[0]].ok != (c[3] is None)]
    assert not wrong, wrong
