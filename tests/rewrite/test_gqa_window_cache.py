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


def test_a_sliding_window_cache_is_fed_at_the_window_length():
    """onnxruntime-genai's Gemma 2 exports: a GroupQueryAttention with sliding_window_cache
    takes a cache of the window's length ("KV cache capacity (0) must be at least
    local_window_size"): the generated decoder steps fed it the past length (0 at prefill),
    so the original never ran and every rewrite was refused; its present cache beyond the
    sequence so far is whatever onnxruntime's buffer held (it differs from run to run), and
    is not compared."""
    from _gqa_models import decoder_model

    from trtforge.analyzer.rewrite.inputs import candidates
    from trtforge.analyzer.rewrite.verify import run_model, verify

    model = decoder_model(window=8)
    (candidate,) = candidates(model)
    for step in candidate.steps:
        assert step.feed["past_key_values.0.key"].shape[2] == 8
        run_model(model, step.feed)  # the original runs
        assert set(step.defined) == {"present.0.key", "present.0.value"}
    assert verify(model, model).ok
