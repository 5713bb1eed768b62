"""trt-build retries only TensorRT's own transient failures, never errors about the model."""

from __future__ import annotations

from trtforge.plugins.cli.build import _is_transient

PLUGIN_NODES = {"block0/rms", "rmsnorm_0"}


def test_internal_assertion_is_transient() -> None:
    error = (
        "[logging.cpp::getThreadResources::237] Error Code 2: Internal Error (Assertion "
        "gThreadContext != nullptr failed.  In getThreadResources at logging.cpp:237)"
    )
    assert _is_transient([error], PLUGIN_NODES)


def test_shape_analysis_of_a_plugin_node_is_transient() -> None:
    error = (
        "IBuilder::buildSerializedNetwork: Error Code 4: API Usage Error (Output shape can not "
        "be computed for node rmsnorm_0. In needTypeAndDimensions at graphShapeAnalyzer.cpp)"
    )
    assert _is_transient([error], PLUGIN_NODES)


def test_model_errors_are_not_retried() -> None:
    shape_of_other_node = (
        "Error Code 4: API Usage Error (Output shape can not be computed for node reshape_3. "
        "In needTypeAndDimensions)"
    )
    usage = "Error Code 4: API Usage Error (Network has dynamic inputs but no profile)"
    assert not _is_transient([shape_of_other_node], PLUGIN_NODES)
    assert not _is_transient([usage], PLUGIN_NODES)
    assert not _is_transient([], PLUGIN_NODES)
