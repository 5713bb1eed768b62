"""UINT8 weights (initializers, Constants) are made INT32 constant tensors for importers that
want a tensor, and read as UINT8 by those that read weights (Q/DQ). Found on onnxruntime's
dynamic quantization of embedding tables (Gather on a UINT8 table). Static verdicts on the
`uint8w_*` probes, and the same models through TensorRT-RTX's parser where it is installed.
"""

from __future__ import annotations

import pytest
from _oracle import HAS_RTX, parse_models
from oracle_cases_tensor_probes import cases

from trtforge.analyzer import check

PROBES = {name: model for name, model in cases() if name.startswith("uint8w_")}

#: probe -> (parses with TensorRT-RTX 1.7.1, the finding code of the failing node)
EXPECTED = {
    "uint8w_gather_cast": (True, None),
    "uint8w_transpose_cast": (True, None),
    "uint8w_gather_identity_cast": (True, None),
    "uint8w_add_two_cast": (True, None),
    "uint8w_const_gather_cast": (True, None),
    "uint8w_gather_out": (False, "gather/uint8-weights-output"),
    "uint8w_gather_cast_u8_out": (True, None),  # the finding's hint: Cast to UINT8 at the end
    "uint8w_gather_dq_zp0": (False, "unsupported-dtype"),
    "uint8w_gather_dq_zp3": (False, "unsupported-dtype"),
    "uint8w_dq_direct": (False, "unsupported-dtype"),
    "uint8w_relu_cast": (False, "unsupported-dtype"),
}


def test_every_probe_has_an_expectation():
    assert set(PROBES) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_static_verdict(name):
    parses, code = EXPECTED[name]
    report = check(PROBES[name], target="rtx-1", backend="static")
    assert report.supported == parses, [
        (n.op_type, [f.code for f in n.errors]) for n in report.nodes
    ]
    if code is not None:
        assert code in [f.code for n in report.nodes for f in n.errors]


def test_message_names_the_tensorrt_type():
    report = check(PROBES["uint8w_gather_dq_zp0"], target="rtx-1", backend="static")
    (finding,) = [f for n in report.nodes for f in n.errors]
    assert "has type UINT8 (INT32 inside TensorRT)" in finding.message


@pytest.mark.skipif(not HAS_RTX, reason="needs tensorrt_rtx")
def test_rtx_parser_agrees():
    results = parse_models(PROBES)
    wrong = {
        name: results[name] for name, (parses, _) in EXPECTED.items() if results[name].ok != parses
    }
    assert not wrong, wrong
