"""Helpers for the trt-rewrite tests: models are ONNX text, outputs compared in onnxruntime."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest

from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
from trtforge.analyzer.rewrite.verify import verify
from trtforge.analyzer.targets import parse_target


def parse(text: str) -> onnx.ModelProto:
    model = onnx.parser.parse_model(text)
    onnx.checker.check_model(model)
    return model


def apply(model: onnx.ModelProto, *passes: str, target: str = "trt-10", **options):
    return rewrite_model(model, list(passes), RewriteOptions(parse_target(target), **options))


def ops(model: onnx.ModelProto) -> Counter:
    return Counter(n.op_type for n in model.graph.node)


def assert_same_outputs(original, rewritten, dims=None) -> None:
    """Original vs rewritten on random inputs, with the explicit per-dtype tolerances."""
    result = verify(original, rewritten, seed=1, dims=dims)
    assert result.ok, result.describe_worst()


class Helpers:
    parse = staticmethod(parse)
    apply = staticmethod(apply)
    ops = staticmethod(ops)
    same = staticmethod(assert_same_outputs)


@pytest.fixture
def rw() -> Helpers:
    return Helpers()


@pytest.fixture
def no_kb_gelu(monkeypatch):
    """Pretend the knowledge base says the target imports Gelu / RMSNormalization."""
    from trtforge.analyzer.rewrite import emit

    monkeypatch.setattr(emit, "op_supported", lambda op, target: True)


def random(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.fixture(autouse=True)
def plugins_built(request, monkeypatch):
    """The passes' `auto` outputs as an install with the plugins' kernels built chooses them
    (`emit.plugin_built`), whatever this machine built: these tests are about what a pass
    emits (a plugin node runs through its reference op in verification). A test marked
    `plugins_not_built` sees an install without them."""
    from trtforge.analyzer.rewrite import emit

    built = request.node.get_closest_marker("plugins_not_built") is None
    monkeypatch.setattr(emit, "plugin_built", lambda name: built)
