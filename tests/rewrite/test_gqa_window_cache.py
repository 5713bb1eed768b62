"""decompose-gqa and trt-check leave a windowed GroupQueryAttention whose past is a cache of
its own length (a ring buffer: onnxruntime-genai's NvTensorRtRtx gpt-oss export gives its
sliding layers `past_sliding_length` beside the full layers' `past_sequence_length`, with no
`sliding_window_cache` attribute). Decomposed as a full cache, such a layer reads past the
buffer's end once the window has filled, and a verification with equal past lengths does not
see it."""

from __future__ import annotations

from _gqa_models import two_layer_model

from trtforge.analyzer import check
from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
from trtforge.analyzer.targets import parse_target

FIX = ("rewrite", "decompose-gqa")


def _fixes_by_node(model) -> dict[str, tuple[list, str]]:
    report = check(model, target="rtx-1", backend="static")
    return {
        n.name: ([(f.kind, f.name) for f in n.fixes], " ".join(r.hint for r in n.reasons))
        for n in report.unsupported_nodes
    }


def test_trt_check_names_no_decomposition_for_a_window_sized_cache():
    fixes = _fixes_by_node(two_layer_model("past_sliding_length"))
    windowed, hint = fixes["gqa_window"]
    assert FIX not in windowed
    assert "a window-sized (ring-buffer) KV cache is not decomposed" in hint
    assert "length 'past_sliding_length' where another KV-cache input has 'past'" in hint
    assert FIX in fixes["gqa"][0]  # the full layer is still decomposed


def test_a_window_over_a_full_length_cache_is_still_decomposed():
    fixes = _fixes_by_node(two_layer_model("past"))
    assert FIX in fixes["gqa_window"][0] and FIX in fixes["gqa"][0]


def test_decompose_gqa_skips_the_window_sized_cache_only():
    model = two_layer_model("past_sliding_length")
    result = rewrite_model(model, ["decompose-gqa"], RewriteOptions(parse_target("rtx-1")))
    outcome = result.passes["decompose-gqa"]
    assert outcome.applied == 1
    (skip,) = outcome.skips
    assert "window-sized (ring-buffer) KV cache" in skip.reason
    left = [n.name for n in result.proto.graph.node if n.op_type == "GroupQueryAttention"]
    assert left == ["gqa_window"]


def test_decompose_gqa_decomposes_both_layers_of_full_length_caches():
    result = rewrite_model(
        two_layer_model("past"), ["decompose-gqa"], RewriteOptions(parse_target("rtx-1"))
    )
    assert result.passes["decompose-gqa"].applied == 2
    assert not any(n.op_type == "GroupQueryAttention" for n in result.proto.graph.node)


def test_the_window_sized_cache_stays_left_once_the_other_layers_are_decomposed():
    """A later round, a second run or `--auto`'s next check sees the full layer decomposed:
    the answer must not change with it (the graph inputs decide, not the other layers)."""
    once = rewrite_model(
        two_layer_model("past_sliding_length"),
        ["decompose-gqa"],
        RewriteOptions(parse_target("rtx-1")),
    ).proto
    again = rewrite_model(once, ["decompose-gqa"], RewriteOptions(parse_target("rtx-1")))
    assert again.passes["decompose-gqa"].applied == 0
    windowed, hint = _fixes_by_node(once)["gqa_window"]
    assert FIX not in windowed and "window-sized" in hint
