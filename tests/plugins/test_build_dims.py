"""trt-build --dims: optimization profiles by dim name (an LLM's KV cache), defaults from
genai_config.json, usage errors before TensorRT loads, and a real AOT build (TensorRT-RTX, SM89)
of a one-layer decoder whose GroupQueryAttention decompose-gqa rewrote."""

from __future__ import annotations

import json

import onnx
import pytest
from _gqa_models import decoder_model
from _plugin_helpers import run_cli

from trtforge.analyzer import dim_profiles
from trtforge.analyzer.errors import UserError
from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
from trtforge.analyzer.targets import parse_target

BUILD = "trtforge.plugins.cli.build"
RTX = {"TRTFORGE_TRT_FLAVOUR": "tensorrt_rtx"}
DIMS = [
    "--dims",
    "batch_size=1:1:4,sequence_length=1:16:64,past_sequence_length=0:16:63",
    "--dims",
    "total_sequence_length=1:32:64",
]
GENAI = {
    "model": {"context_length": 64, "decoder": {"num_key_value_heads": 2}},
    "search": {"max_length": 64, "num_beams": 2, "num_return_sequences": 1},
}


@pytest.fixture
def decoder(tmp_path):
    """The decoder with its GroupQueryAttention decomposed (what TensorRT-RTX can parse)."""
    rewritten = rewrite_model(
        decoder_model(), ["decompose-gqa"], RewriteOptions(parse_target("rtx-1"))
    ).proto
    path = tmp_path / "model.onnx"
    onnx.save(rewritten, path)
    return path


def test_resolve_applies_each_range_to_every_input_using_the_name(decoder):
    model = onnx.load(decoder)
    dims = dim_profiles.parse_dims(DIMS[1::2])
    resolved = dim_profiles.resolve(model, decoder, dims, {})
    assert resolved.shapes["input_ids"] == ((1, 1), (1, 16), (4, 64))
    assert resolved.shapes["attention_mask"] == ((1, 1), (1, 32), (4, 64))
    for name in ("past_key_values.0.key", "past_key_values.0.value"):
        assert resolved.shapes[name] == ((1, 2, 0, 16), (1, 2, 16, 16), (4, 2, 63, 16))
    assert set(resolved.dims) == {
        "batch_size",
        "sequence_length",
        "past_sequence_length",
        "total_sequence_length",
    }


def test_genai_config_gives_defaults_with_an_empty_cache_at_the_minimum(decoder):
    (decoder.parent / "genai_config.json").write_text(json.dumps(GENAI))
    model = onnx.load(decoder)
    resolved = dim_profiles.resolve(
        model, decoder, dim_profiles.parse_dims(["batch_size=1:1:1"]), {}
    )
    past = resolved.dims["past_sequence_length"]
    assert (past.min, past.max, past.source) == (0, 63, "genai_config.json")
    assert resolved.dims["total_sequence_length"].max == 64
    assert resolved.dims["batch_size"].source == "--dims"  # --dims wins over the defaults
    command = dim_profiles.suggest_command(model, decoder)
    assert "past_sequence_length=0:32:63" in command and "batch_size=1:1:2" in command


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--dims", "batch_size=4:1:8"], "min <= opt <= max"),
        (["--dims", "batch_size=1-4"], "expected NAME=MIN:OPT:MAX"),
        (["--dims", "batch_size=1:1:4", "--dims", "batch_size=1:2:4"], "names 'batch_size' twice"),
        (["--dims", "beams=1:1:4"], "no model input uses"),
        (["--dims", "batch_size=1:1:4,sequence_length=1:8:16"], "no range for"),
        (DIMS + ["--shapes", "input_ids:1x1,2x8,4x16"], "but --dims gives"),
    ],
)
def test_inconsistent_ranges_exit_2_before_tensorrt(decoder, args, needle):
    proc = run_cli(BUILD, str(decoder), "-o", str(decoder.with_suffix(".plan")), *args, env=RTX)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert needle in lines[0] and lines[1].startswith("Hint:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not decoder.with_suffix(".plan").exists()


def test_dims_parse_without_tensorrt():
    with pytest.raises(UserError, match="min <= opt <= max"):
        dim_profiles.parse_dims(["a=3:2:1"])
    assert dim_profiles.parse_dims(["a=2, b=0:1:2"])["a"].text() == "2:2:2"
    assert dim_profiles.role("past_sequence_length + 1") == "total"
    config = {"model": {"context_length": 64, "decoder": {"head_size": 16}}}
    defaults = dim_profiles.genai_defaults(config, ["kv_cache_dim", "past_sequence_length"])
    assert defaults["kv_cache_dim"].text() == "16:16:16"  # genai's name for the head size
    assert defaults["past_sequence_length"].text() == "0:32:63"


@pytest.mark.parametrize(
    ("decoder_config", "expected"),
    [({"sliding_window": {"window_size": 32}}, "0:32:32"), ({}, "0:32:63")],
)
def test_a_sliding_window_cache_gets_a_range(decoder_config, expected):
    """onnxruntime-genai's Gemma 2 exports: the window layers' cache dim past_sliding_length
    was printed as `past_sliding_length=MIN:OPT:MAX` in trt-check's trt-build hint, which
    trt-build refuses; it holds at most the window (genai_config.json), or the past's range
    where the config gives no window."""
    config = {"model": {"context_length": 64, "decoder": decoder_config}}
    names = ["past_sequence_length", "past_sliding_length"]
    defaults = dim_profiles.genai_defaults(config, names)
    assert defaults["past_sliding_length"].text() == expected
    assert dim_profiles.role("past_sliding_length") == "window"


@pytest.mark.parametrize("length", [1, 2, 7, 64, 255, 256, 4096])
def test_genai_defaults_opt_is_one_real_step(length):
    """At opt, past + new tokens = total within the context length (TensorRT checks shape
    constraints there: a causal-mask table of `length` rows sliced at total, as in genai's
    MultiHeadAttention exports, fails the build otherwise); min/max span the context."""
    config = {"search": {"max_length": length}}
    names = ["sequence_length", "past_sequence_length", "total_sequence_length"]
    seq, past, total = (dim_profiles.genai_defaults(config, names)[n] for n in names)
    assert seq.opt + past.opt == total.opt <= length
    assert (seq.min, seq.max, past.min, past.max, total.max) == (1, length, 0, length - 1, length)
    if length >= 256:
        assert (seq.opt, past.opt, total.opt) == (128, 128, 256)


@pytest.mark.parser
def test_decoder_engine_builds_with_dim_profiles(rtx, decoder):
    engine = decoder.with_suffix(".plan")
    proc = run_cli(
        BUILD, str(decoder), "-o", str(engine), "--compute-capability", "8.9", *DIMS, env=RTX
    )
    assert proc.returncode == 0, proc.stderr
    side = json.loads(engine.with_name(engine.name + ".json").read_text())
    assert side["dims"]["past_sequence_length"] == {
        "min": 0,
        "opt": 16,
        "max": 63,
        "source": "--dims",
    }
    by_name = {i["name"]: i for i in side["inputs"]}
    assert by_name["past_key_values.0.value"]["profile"]["min"] == [1, 2, 0, 16]
    assert by_name["attention_mask"]["profile"]["max"] == [4, 64]


def test_dims_past_int32_are_refused_from_shapes_and_ignored_from_a_config(decoder):
    """TensorRT dims are int32: a larger one given by --shapes is a usage error (it reached
    set_shape: exit 3); one read from an untrusted genai_config.json is not a count."""
    from trtforge.plugins.cli.build import parse_shapes

    with pytest.raises(UserError, match="exceeds 2147483647"):
        parse_shapes(["x:1x8,1x8,2147483648x8"])
    assert dim_profiles.positive_count(2**31) is None
    assert dim_profiles.positive_count(2**31 - 1) == 2**31 - 1
    config = {"model": {"context_length": 2**31}, "search": {"max_length": 10**30}}
    defaults = dim_profiles.genai_defaults(config, ["total_sequence_length"])
    assert "total_sequence_length" not in defaults
