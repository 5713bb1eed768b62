"""Calls to model-local functions are judged by their bodies, as the parser imports them."""

from __future__ import annotations

import onnx.parser
import pytest
from _oracle import HAS_RTX, parse_models
from oracle_cases_local_functions import CASES

from trtforge.analyzer import check


@pytest.mark.parametrize("name", sorted(CASES))
def test_static_verdict(name):
    text, parses = CASES[name]
    report = check(onnx.parser.parse_model(text), target="rtx-1", backend="static")
    assert report.supported == parses, [
        (n.op_type, [f.code for f in n.errors]) for n in report.nodes
    ]
    assert "custom-domain-op" not in {f.code for n in report.nodes for f in n.reasons}


def test_the_body_node_at_fault_is_named():
    text, _ = CASES["fn_nonzero"]
    (call,) = check(onnx.parser.parse_model(text), target="rtx-1", backend="static").nodes
    (finding,) = call.errors
    assert finding.inner == "F/F/NonZero" and "body node" in finding.message
    assert finding.code == "not-available"  # NonZero has no importer on RTX


@pytest.mark.skipif(not HAS_RTX, reason="needs tensorrt_rtx")
def test_rtx_parser_agrees():
    results = parse_models(
        {name: onnx.parser.parse_model(text) for name, (text, _) in CASES.items()}
    )
    wrong = {
        name: results[name] for name, (_, parses) in CASES.items() if results[name].ok != parses
    }
    assert not wrong, wrong
