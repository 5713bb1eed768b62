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


@pytest.mark.parametrize("spec", all_plugins(), ids=lambda s: s.name)
def test_reference_op_runs_in_the_onnx_reference_evaluator(spec):
    """`spec.reference_op()` (what trt-rewrite's verification evaluates plugin nodes with)
    gives `spec.run_reference` on each declared case, through a real ONNX model."""
    import numpy as np
    from onnx.reference import ReferenceEvaluator

    cases = testing.declared_cases(spec, np.random.default_rng(3))
    assert cases, f"{spec.name} declares no test data"
    for n, (inputs, attrs) in enumerate(cases[:6]):
        model = testing.case_model(spec, inputs, attrs)
        del model.functions[:]  # the plugin node itself, not its decomposition
        evaluator = ReferenceEvaluator(model, new_ops=[spec.reference_op()])
        got = evaluator.run(None, {t.name: a for t, a in zip(spec.inputs, inputs, strict=True)})
        want = spec.run_reference(inputs, attrs)
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(np.asarray(g), w, err_msg=f"{spec.name} case {n}")
