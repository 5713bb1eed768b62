"""The entropy calibration's threshold search (`analyzer/entropy_search.py`) finds exactly the
threshold onnxruntime's own search finds, on histograms as its calibrator builds them."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime.quantization")

from onnxruntime.quantization.calibrate import HistogramCollector  # noqa: E402

from trtforge.analyzer.entropy_search import entropy_search_replaced, entropy_threshold  # noqa: E402


def _histogram(values: np.ndarray, bins: int):
    """(counts, edges, min, max, threshold), as `HistogramCollector.collect_value` makes it."""
    values = values.astype(np.float32)
    low, high = np.nanmin(values), np.nanmax(values)
    threshold = np.array(max(abs(low), abs(high)), dtype=values.dtype)
    hist, edges = np.histogram(values, bins, range=(-threshold, threshold))
    return hist, edges, low, high, threshold


def _cases():
    rng = np.random.default_rng(7)
    yield "normal", _histogram(rng.standard_normal(20_000), 2048)
    yield "relu", _histogram(np.maximum(rng.standard_normal(20_000), 0), 2048)
    yield "heavy tails", _histogram(rng.standard_t(1.5, 50_000), 2048)
    yield "spikes", _histogram(rng.choice([-3.0, 0.0, 0.5, 7.0], 5_000), 2048)
    yield "one value", _histogram(np.full(100, 2.5), 2048)
    yield "grown by a merge", _histogram(rng.standard_normal(8_000) * 3, 2048 + 2 * 37)
    yield "odd size", _histogram(rng.exponential(size=9_000), 2301)
    yield "few samples", _histogram(rng.standard_normal(40), 2048)


@pytest.mark.parametrize("name, histogram", list(_cases()), ids=[c[0] for c in _cases()])
def test_the_threshold_is_onnxruntime_s(name, histogram):
    """Equal thresholds, of the same dtype (128 quantized bins: TensorRT's setting, which
    trt-quantize uses)."""
    ours = entropy_threshold(None, histogram, 128)
    theirs = HistogramCollector.get_entropy_threshold(None, histogram, 128)
    assert ours[0] == theirs[0] and ours[1] == theirs[1]
    assert ours[0].dtype == theirs[0].dtype and ours[1].dtype == theirs[1].dtype


def test_the_replacement_is_undone_after_the_block():
    original = HistogramCollector.get_entropy_threshold
    with entropy_search_replaced():
        assert HistogramCollector.get_entropy_threshold is entropy_threshold
        float_counts = list(_histogram(np.arange(10.0), 2048))
        float_counts[0] = float_counts[0].astype(np.float64)  # not counts: onnxruntime's
        got = HistogramCollector.get_entropy_threshold(None, tuple(float_counts), 128)
        assert got == original(None, tuple(float_counts), 128)
    assert HistogramCollector.get_entropy_threshold is original
