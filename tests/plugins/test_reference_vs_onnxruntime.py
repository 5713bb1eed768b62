"""Each plugin's NumPy reference against its ONNX decomposition run by onnxruntime, on the
declaration's own test cases (`testing.declared_cases`: its `test_inputs`, else its
`test_shapes` and `test_attrs`) — nothing here knows what a plugin's attributes mean."""

from __future__ import annotations

import pytest

from trtforge.plugins import all_plugins, testing

SPECS = [s for s in all_plugins() if s.decomposition]


def test_some_declaration_has_a_decomposition():
    assert SPECS  # the test below would otherwise pass vacuously


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_reference_matches_decomposition(spec):
    pytest.importorskip("onnxruntime")
    worst = testing.check_decomposition(spec)
    assert worst >= 0.0
