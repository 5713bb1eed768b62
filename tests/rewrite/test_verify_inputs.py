"""Verification on real-model inputs: table-bounded ids, masks, graph sizes, decoders, user
feeds, and regional verification where onnxruntime has no kernel for an op."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from trtforge.analyzer.cli.rewrite import main
from trtforge.analyzer.errors import UserError
from trtforge.analyzer.rewrite import inputs as gen
from trtforge.analyzer.rewrite.verify import make_inputs, verify

GELU = """
     g1 = Div(h, sqrt2)
     g2 = Erf(g1)
     g3 = Add(g2, one)
     g4 = Mul(h, g3)
     y = Mul(g4, half)"""
GELU_W = "float sqrt2 = {1.4142135}, float one = {1.0}, float half = {0.5}"


def bert_embeddings(opset: int = 20) -> onnx.ModelProto:
    """BERT's embeddings: token_type_ids index a table of 2, positions are shifted by 2 (as
    RoBERTa's), the attention mask becomes an additive bias; GELU on top."""
    rng = np.random.default_rng(0)
    text = f"""<ir_version: 9, opset_import: ["" : {opset}]>
    g (int64[batch, seq] input_ids, int64[batch, seq] token_type_ids,
       int64[batch, seq] attention_mask, int64[batch, seq] position_ids)
      => (float[batch, seq, 8] y) <{GELU_W}, int64 two = {{2}}, float neg = {{-10000.0}},
          int64[1] ax2 = {{2}}> {{
     t = Cast<to = 7>(token_type_ids)
     w = Gather(words, input_ids)
     s = Gather(types, t)
     p2 = Add(position_ids, two)
     p = Gather(positions, p2)
     e1 = Add(w, s)
     e = Add(e1, p)
     mf = Cast<to = 1>(attention_mask)
     m1 = Sub(one, mf)
     bias = Mul(m1, neg)
     b3 = Unsqueeze(bias, ax2)
     h = Add(e, b3)
     {GELU}
    }}"""
    model = onnx.parser.parse_model(text)
    for name, rows in (("words", 128), ("types", 2), ("positions", 5)):
        model.graph.initializer.append(
            numpy_helper.from_array(rng.standard_normal((rows, 8)).astype(np.float32), name)
        )
    onnx.checker.check_model(model)
    return model


def test_ids_are_bounded_by_the_tables_they_index() -> None:
    feeds = make_inputs(bert_embeddings(), dims={"batch": 4, "seq": 16})
    assert feeds["token_type_ids"].max() < 2 and feeds["token_type_ids"].min() >= 0
    assert feeds["position_ids"].max() < 3  # positions + 2 index a table of 5
    assert feeds["input_ids"].max() < 128 and feeds["input_ids"].max() >= 4
    mask = feeds["attention_mask"]
    assert set(np.unique(mask)) <= {0, 1} and (mask[:, 0] == 1).all()


def test_bert_with_token_type_ids_rewrites_verified(tmp_path, capsys) -> None:
    src = tmp_path / "bert.onnx"
    onnx.save(bert_embeddings(), src)
    out = tmp_path / "out.onnx"
    assert main([str(src), "-o", str(out), "--fuse-gelu", "--dim", "seq=16"]) == 0
    assert "verified" in capsys.readouterr().err
    assert not any(n.op_type == "Erf" for n in onnx.load(out).graph.node)


def _embed_layer_norm_model() -> onnx.ModelProto:
    """onnxruntime's fused BERT embeddings: EmbedLayerNormalization with a segment table of 2."""
    rng = np.random.default_rng(1)
    text = f"""<ir_version: 9, opset_import: ["" : 20, "com.microsoft" : 1]>
    g (int32[batch, seq] input_ids, int32[batch, seq] segment_ids, int32[batch, seq] input_mask)
      => (float[batch, seq, 8] y) <{GELU_W}> {{
     h, mask_index = com.microsoft.EmbedLayerNormalization <epsilon = 0.00001>
        (input_ids, segment_ids, words, positions, segments, gamma, beta, input_mask)
     {GELU}
    }}"""
    model = onnx.parser.parse_model(text)
    for name, shape in (
        ("words", (50, 8)),
        ("positions", (16, 8)),
        ("segments", (2, 8)),
        ("gamma", (8,)),
        ("beta", (8,)),
    ):
        value = rng.standard_normal(shape).astype(np.float32)
        model.graph.initializer.append(numpy_helper.from_array(value, name))
    return model


def test_embed_layer_normalization_inputs_in_range() -> None:
    model = _embed_layer_norm_model()
    feeds = make_inputs(model, dims={"batch": 2, "seq": 6})
    assert feeds["segment_ids"].max() < 2 and feeds["input_ids"].max() < 50
    assert set(np.unique(feeds["input_mask"])) <= {0, 1}
    from trtforge.analyzer.rewrite.base import RewriteOptions
    from trtforge.analyzer.rewrite.manager import rewrite_model
    from trtforge.analyzer.targets import parse_target

    result = rewrite_model(model, ["fuse-gelu"], RewriteOptions(parse_target("trt-10")))
    assert result.changed
    assert verify(model, result.proto, dims={"batch": 2, "seq": 6}).ok


def _unet(opset: int = 20) -> onnx.ModelProto:
    """A down/up block: stride-2 conv, 2x upsample, Concat with the skip — only even sizes run."""
    rng = np.random.default_rng(2)
    text = f"""<ir_version: 9, opset_import: ["" : {opset}]>
    g (float[1, 2, H, W] x) => (float[1, 4, H, W] y) <{GELU_W}, float[4] scales = {{1, 1, 2, 2}}> {{
     d = Conv <strides = [2, 2], kernel_shape = [1, 1]> (x, wd)
     u = Resize <mode = "nearest"> (d, , scales)
     h = Concat <axis = 1> (u, x)
     {GELU}
    }}"""
    model = onnx.parser.parse_model(text)
    model.graph.initializer.append(
        numpy_helper.from_array(rng.standard_normal((2, 2, 1, 1)).astype(np.float32), "wd")
    )
    return model


def test_spatial_sizes_are_stride_multiples(rw) -> None:
    model = _unet()
    first = gen.candidates(model)[0].steps[0].feed["x"]
    assert first.shape[2] % 2 == 0 and first.shape[3] % 2 == 0
    result = rw.apply(model, "fuse-gelu")
    assert verify(model, result.proto).ok


def test_original_failing_blames_the_inputs(rw) -> None:
    model = _unet()
    result = rw.apply(model, "fuse-gelu")
    with pytest.raises(UserError, match="ORIGINAL model does not run") as err:
        verify(model, result.proto, dims={"H": 5, "W": 5})
    assert "--inputs" in err.value.hint


def _decoder() -> onnx.ModelProto:
    """A KV-cache step as onnxruntime-genai lays it out: past [batch, 2, past, 4] plus the new
    keys make present; the mask covers past + current positions."""
    rng = np.random.default_rng(3)
    text = f"""<ir_version: 9, opset_import: ["" : 20]>
    g (int64[batch_size, sequence_length] input_ids,
       int64[batch_size, total_sequence_length] attention_mask,
       float[batch_size, 2, past_sequence_length, 4] past)
      => (float[batch_size, 2, total_sequence_length, 4] y) <{GELU_W},
          int64[4] kshape = {{0, 0, 2, 4}}, int64[2] ax13 = {{1, 3}}> {{
     e = Gather(words, input_ids)
     k = Reshape(e, kshape)
     kt = Transpose <perm = [0, 2, 1, 3]> (k)
     present = Concat <axis = 2> (past, kt)
     mf = Cast <to = 1> (attention_mask)
     m4 = Unsqueeze(mf, ax13)
     h = Mul(present, m4)
     {GELU}
    }}"""
    model = onnx.parser.parse_model(text)
    model.graph.initializer.append(
        numpy_helper.from_array(rng.standard_normal((20, 8)).astype(np.float32), "words")
    )
    model.graph.input[2].name = "past_key_values.0.key"  # a name ONNX text cannot spell
    for node in model.graph.node:
        node.input[:] = ["past_key_values.0.key" if i == "past" else i for i in node.input]
    return model


def test_decoder_prefill_and_decode_steps(rw) -> None:
    model = _decoder()
    (candidate,) = gen.candidates(model)
    prefill, decode = candidate.steps
    assert prefill.feed["past_key_values.0.key"].shape[2] == 0
    assert decode.feed["input_ids"].shape[1] == 1
    assert decode.feed["attention_mask"].shape[1] == 1 + gen.DECODE_PAST
    result = rw.apply(model, "fuse-gelu")
    outcome = verify(model, result.proto)
    assert outcome.ok and len(outcome.steps) == 2


def _decoder_with_genai_config(folder) -> onnx.ModelProto:
    """`_decoder()` with its KV heads a named dim, which genai_config.json in `folder` sizes
    (2 heads of 4)."""
    model = _decoder()
    dims = model.graph.input[2].type.tensor_type.shape.dim
    dims[1].Clear()
    dims[1].dim_param = "num_kv_heads"
    (folder / "genai_config.json").write_text(
        '{"model": {"decoder": {"num_key_value_heads": 2, "head_size": 4}}}'
    )
    return model


def test_decoder_heads_from_genai_config(tmp_path) -> None:
    model = _decoder_with_genai_config(tmp_path)
    layout = gen.decoder_layout(model, tmp_path)
    assert layout.heads == {"past_key_values.0.key": 2}
    feed = gen.candidates(model, folder=tmp_path)[0].steps[1].feed
    assert feed["past_key_values.0.key"].shape[1:] == (2, gen.DECODE_PAST, 4)


def test_random_calibration_reads_genai_config(tmp_path) -> None:
    """trt-quantize's random samples of a decoder take the KV-cache heads from the
    genai_config.json beside the model, as verification's inputs do (they took the default
    size, which the model's attention refuses)."""
    from trtforge.analyzer.cli.quantize import _random_feeds

    model = _decoder_with_genai_config(tmp_path)
    assert make_inputs(model, folder=tmp_path)["past_key_values.0.key"].shape[1] == 2
    assert make_inputs(model)["past_key_values.0.key"].shape[1] == gen.DEFAULT_DIM
    feeds = _random_feeds(model, {}, tmp_path)
    assert {f["past_key_values.0.key"].shape[1] for f in feeds} == {2}


def test_user_inputs_npz_and_script(tmp_path, capsys) -> None:
    model = _unet()
    src = tmp_path / "m.onnx"
    onnx.save(model, src)
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 10)).astype(np.float32)
    np.savez(tmp_path / "feed.npz", x=x)
    out = tmp_path / "o.onnx"
    assert (
        main([str(src), "-o", str(out), "--fuse-gelu", "--inputs", str(tmp_path / "feed.npz")]) == 0
    )
    script = tmp_path / "loader.py"
    script.write_text(
        "import numpy as np\n"
        "def feeds():\n"
        "    for h in (4, 8):\n"
        "        yield {'x': np.ones((1, 2, h, h), np.float32)}\n"
    )
    report = tmp_path / "r.json"
    args = [str(src), "-o", str(out), "--fuse-gelu", "--report", str(report)]
    assert main([*args, "--data-loader-script", f"{script}:feeds"]) == 0
    import json

    verification = json.loads(report.read_text())["verification"]
    assert len(verification["steps"]) == 2
    # inputs the original cannot run with: the inputs are blamed, nothing is written
    np.savez(tmp_path / "bad.npz", x=np.ones((1, 2, 5, 5), np.float32))
    out2 = tmp_path / "o2.onnx"
    assert (
        main([str(src), "-o", str(out2), "--fuse-gelu", "--inputs", str(tmp_path / "bad.npz")]) == 2
    )
    assert "ORIGINAL model does not run" in capsys.readouterr().err and not out2.exists()


def test_op_without_onnxruntime_kernel_is_verified_by_region(rw) -> None:
    """com.microsoft LayerNormalization has no onnxruntime kernel: the GELU region after it is
    compared on its own, fed values of the boundary's inferred shape."""
    text = f"""<ir_version: 9, opset_import: ["" : 20, "com.microsoft" : 1]>
    g (float[2, 3, 8] x) => (float[2, 3, 8] y) <{GELU_W}, float[8] gamma = {{1,1,1,1,1,1,1,1}}> {{
     h = com.microsoft.LayerNormalization <axis = -1> (x, gamma)
     {GELU}
    }}"""
    model = onnx.parser.parse_model(text)
    result = rw.apply(model, "fuse-gelu")
    outcome = verify(model, result.proto)
    assert outcome.ok and outcome.mode == "regions"
    assert any("random" in note for note in outcome.notes)
    # a wrong rewrite of the region is caught
    broken = onnx.ModelProto()
    broken.CopyFrom(result.proto)
    for node in broken.graph.node:
        if node.op_type == "Gelu":
            node.op_type = "Relu"
            del node.attribute[:]
    assert not verify(model, broken).ok


def test_regional_verification_matches_whole_model(rw) -> None:
    model = bert_embeddings()
    result = rw.apply(model, "fuse-gelu")
    regional = verify(model, result.proto, regional=True)
    assert regional.ok and regional.mode == "regions" and regional.outputs
    assert verify(model, result.proto).mode == "model"
    broken = onnx.ModelProto()
    broken.CopyFrom(result.proto)
    for node in broken.graph.node:
        if node.op_type == "Gelu":
            node.op_type = "Relu"
            del node.attribute[:]
    assert not verify(model, broken, regional=True).ok


def test_genai_decoder_verified_on_prefill_and_decode(tmp_path) -> None:
    """An onnxruntime-genai export (KV head size only in genai_config.json: `kv_cache_dim`)."""
    from pathlib import Path

    model = Path(__file__).resolve().parents[1] / "fixtures" / "llm" / "llama-fp32-cpu"
    if not (model / "model.onnx").exists():
        pytest.skip("no LLM fixture")
    report = tmp_path / "r.json"
    out = tmp_path / "o.onnx"
    args = [str(model / "model.onnx"), "-o", str(out), "--auto", "--target", "trt-10"]
    assert main([*args, "--report", str(report), "-q"]) == 0
    import json

    verification = json.loads(report.read_text())["verification"]
    assert verification["ok"] and len(verification["steps"]) == 2
    assert verification["steps"][0].startswith("prefill")


@pytest.mark.parametrize("op", ["Split", "SplitToSequence"])
def test_split_sizes_add_up_to_the_split_dim(rw, op) -> None:
    """An integer input used as Split sizes gets sizes that add up to the dim it splits (random
    ones rarely do, and the original then refuses to run); a rewrite of such a model verifies."""
    outputs = "float[2, A] a, float[2, B] b" if op == "Split" else "int64 n"
    body = (
        "a, b = Split<axis = 1>(x, sp)"
        if op == "Split"
        else ("s = SplitToSequence<axis = 1>(x, sp)\n     n = SequenceLength(s)")
    )
    model = rw.parse(f"""<ir_version: 8, opset_import: ["" : 17]>
    g (float[2, N] x, int64[2] sp) => ({outputs}) {{
     {body}
    }}""")
    for seed in range(3):
        (candidate, *_) = gen.candidates(model, seed, {"N": 7})
        feed = candidate.steps[0].feed
        assert feed["sp"].sum() == feed["x"].shape[1] == 7 and (feed["sp"] >= 0).all()
    if op == "SplitToSequence":
        result = rw.apply(model, "lower-sequences")
        assert result.changed
        outcome = verify(model, result.proto, dims={"N": 7})
        assert outcome.ok and outcome.outputs, outcome.describe_worst()


@pytest.mark.parametrize("integer", [False, True], ids=["Conv", "ConvInteger"])
def test_waveform_length_is_a_spatial_dim(rw, integer) -> None:
    """A rank-2 float input [batch, time] that a strided 1-D convolution reads (wav2vec2's
    waveform, also quantize_dynamic's ConvInteger form) gets a time long enough for the kernel,
    not the default 3."""
    import onnxruntime as ort

    conv = (
        "q, s, z = DynamicQuantizeLinear(x3)\n     c = ConvInteger<strides = [5]>(q, w, z)\n"
        "     y = Cast<to = 1>(c)"
        if integer
        else "y = Conv<strides = [5]>(x3, w)"
    )
    wtype = "uint8" if integer else "float"
    model = rw.parse(f"""<ir_version: 8, opset_import: ["" : 17]>
    g (float[batch, time] x) => (float[batch, 2, frames] y) <int64[1] one = {{1}},
        {wtype}[2, 1, 10] w = {{{", ".join(["3"] * 20)}}}> {{
     x3 = Unsqueeze(x, one)
     {conv}
    }}""")
    session = ort.InferenceSession(model.SerializeToString())
    runs = []
    for candidate in gen.candidates(model, 0):  # the verifier keeps the first that runs
        feed = candidate.steps[0].feed
        try:
            session.run(None, feed)
        except Exception:  # noqa: BLE001 - onnxruntime's refusal: try the next candidate
            continue
        runs.append(feed["x"].shape[1])
    assert runs and min(runs) >= 10


def _feed_files(folder) -> dict:
    """Feed files a user may hand over by mistake or on purpose, each with the words its
    one-line error must hold."""
    good = folder / "good.npz"
    np.savez(good, x=np.ones((1, 4), np.float32))
    data = good.read_bytes()
    cases = {}
    np.save(folder / "one.npy", np.ones((1, 4), np.float32))
    cases[folder / "one.npy"] = "a .npy file"
    for name, damaged in {
        "truncated.npz": data[: len(data) // 2],
        "flipped.npz": data[:60] + bytes([data[60] ^ 0xFF]) + data[61:],
        "text.npz": b"not an archive",
    }.items():
        (folder / name).write_bytes(damaged)
        cases[folder / name] = "not a readable .npz"
    import zipfile

    with zipfile.ZipFile(folder / "other.npz", "w") as archive:
        archive.writestr("notes.txt", "hello")
    cases[folder / "other.npz"] = "is not an array"
    np.savez(folder / "objects.npz", x=np.array([{"a": 1}], dtype=object))
    cases[folder / "objects.npz"] = "not a readable .npz"
    import os

    os.mkfifo(folder / "fifo.npz")
    cases[folder / "fifo.npz"] = "not a regular file"
    return cases


def test_hostile_feed_files_are_one_line_errors(tmp_path) -> None:
    """A .npy, a damaged archive, a member that is not an array, pickled objects or a FIFO:
    each a UserError naming the file (zipfile's and numpy's own errors were tracebacks, and a
    FIFO blocked forever)."""
    for path, words in _feed_files(tmp_path).items():
        with pytest.raises(UserError, match=words) as err:
            gen.load_npz([str(path)])
        assert path.name in err.value.message and "numpy.savez" in err.value.hint
    assert gen.read_npz(tmp_path / "good.npz")["x"].shape == (1, 4)


def test_a_feed_file_declaring_too_much_is_refused_before_decompressing(tmp_path, monkeypatch):
    """What an archive holds once decompressed is read from its directory: a small file that
    declares more than MAX_FEED_FILE_BYTES is refused before any array is read."""
    np.savez_compressed(tmp_path / "zeros.npz", x=np.zeros(4096, np.float32))
    assert (tmp_path / "zeros.npz").stat().st_size < 1024
    read = []
    monkeypatch.setattr(np, "load", lambda *a, **k: read.append(a))
    monkeypatch.setattr(gen, "MAX_FEED_FILE_BYTES", 8192)
    with pytest.raises(UserError, match="GiB once decompressed"):
        gen.read_npz(tmp_path / "zeros.npz")
    assert not read


def test_calibration_data_errors_are_exit_2(tmp_path, capsys) -> None:
    from trtforge.analyzer.cli.quantize import main as quantize

    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 4] x) => (float[1, 4] y) <float[4, 4] w = {1,0,0,0,0,1,0,0,0,0,1,0,0,0,0,1}> {
          y = MatMul(x, w)
        }"""
    )
    src = tmp_path / "m.onnx"
    onnx.save(model, src)
    cases = _feed_files(tmp_path)
    for path in cases:
        out = tmp_path / "q.onnx"
        assert quantize([str(src), "-o", str(out), "--calibration-data", str(path)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and str(path.name) in err and not out.exists()


@pytest.mark.parametrize(
    "config",
    [
        "[1, 2]",
        '{"model": "decoder"}',
        '{"model": {"decoder": [2]}}',
        '{"model": {"decoder": {"num_key_value_heads": "two", "head_size": -4}}}',
        '{"model": {"decoder": {"num_key_value_heads": 2.5, "head_size": true}}}',
        "[" * 100_000,
        "\xff\xfe not text",
    ],
)
def test_a_hostile_genai_config_is_ignored(tmp_path, config) -> None:
    """genai_config.json is the model folder's, as untrusted as the model: one that is not
    an object of positive counts gives no heads (the graph's own dims and attributes are
    used), never a traceback."""
    model = _decoder()
    dims = model.graph.input[2].type.tensor_type.shape.dim
    for axis, name in ((1, "num_kv_heads"), (3, "head_size")):
        dims[axis].Clear()
        dims[axis].dim_param = name
    (tmp_path / "genai_config.json").write_bytes(config.encode("utf-8", "surrogateescape"))
    layout = gen.decoder_layout(model, tmp_path)
    assert layout.heads == {} and layout.head_size == {}
    gen.candidates(model, folder=tmp_path)


def test_a_genai_config_that_is_not_a_regular_file_in_the_folder_is_not_read(tmp_path):
    """A FIFO named genai_config.json would block the read forever; a link out of the model's
    folder would read a file the user did not hand over."""
    import os

    from trtforge.analyzer.dim_profiles import genai_config

    model_path = tmp_path / "m.onnx"
    os.mkfifo(tmp_path / "genai_config.json")
    assert genai_config(model_path) is None
    os.remove(tmp_path / "genai_config.json")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.json"
    outside.write_text('{"model": {"decoder": {"num_key_value_heads": 2, "head_size": 4}}}')
    os.symlink(outside, tmp_path / "genai_config.json")
    assert genai_config(model_path) is None
    os.remove(tmp_path / "genai_config.json")
    os.symlink(f"../{outside.name}", tmp_path / "genai_config.json")  # relative, still outside
    try:
        assert genai_config(model_path) is None
    finally:
        outside.unlink()


@pytest.mark.parametrize(
    "flag,value",
    [
        ("--inputs", "missing.npz"),
        ("--inputs", "x" * 300 + ".npz"),
        ("--data-loader-script", "missing.py:feeds"),
    ],
)
def test_missing_feed_files_are_refused_before_rewriting(tmp_path, capsys, flag, value) -> None:
    # feeds are read only when a pass changed the model: a model no pass changes (nothing to
    # verify) took a misspelt name silently
    src = tmp_path / "m.onnx"
    onnx.save(_unet(), src)
    out = tmp_path / "o.onnx"
    code = main([str(src), "-o", str(out), "--fuse-layernorm", flag, str(tmp_path / value)])
    err = capsys.readouterr().err
    assert code == 2 and flag in err and len(err.strip().splitlines()) <= 2, err
    assert not out.exists()
    # with --no-verify the feeds are not read, so they are not asked for either
    assert main([str(src), "-o", str(out), "--fuse-layernorm", "--no-verify", flag, value]) == 0


def test_regional_verification_over_several_steps(tmp_path, capsys) -> None:
    """A decoder's two steps (prefill, decode) verified by region where the original's prefix
    holds an op onnxruntime has no CPU kernel for (onnxruntime-genai's paged-attention
    export: PagedAttention feeds the SkipSimplifiedLayerNormalization decompose-contrib
    rewrites). The second step's random boundary values read the original's type table,
    which the first step's comparison had replaced by a dict: exit 3."""
    from onnx import TensorProto, helper

    f16, i32 = TensorProto.FLOAT16, TensorProto.INT32
    inputs = [
        helper.make_tensor_value_info("qkv", f16, ["num_tokens", 64]),
        helper.make_tensor_value_info("skip", f16, ["num_tokens", 32]),
        helper.make_tensor_value_info("past_key", f16, ["num_blocks", "block_size", 1, 16]),
        helper.make_tensor_value_info("past_value", f16, ["num_blocks", "block_size", 1, 16]),
        helper.make_tensor_value_info("cumulative_sequence_lengths", i32, ["batch_plus_1"]),
        helper.make_tensor_value_info("past_sequence_lengths", i32, ["batch_size"]),
        helper.make_tensor_value_info("block_table", i32, ["batch_size", "max_num_blocks"]),
    ]
    paged_inputs = [
        "qkv", "", "", "past_key", "past_value", "cumulative_sequence_lengths",
        "past_sequence_lengths", "block_table", "cos_cache", "sin_cache",
    ]  # fmt: skip
    nodes = [
        helper.make_node(
            "PagedAttention", paged_inputs, ["attn", "present_key", "present_value"],
            domain="com.microsoft", num_heads=2, kv_num_heads=1, scale=0.25, do_rotary=1,
        ),
        helper.make_node(
            "SkipSimplifiedLayerNormalization", ["attn", "skip", "gamma"], ["y"],
            domain="com.microsoft", epsilon=1e-6,
        ),
    ]  # fmt: skip
    cache = ["num_blocks", "block_size", 1, 16]
    graph = helper.make_graph(
        nodes,
        "g",
        inputs,
        [
            helper.make_tensor_value_info("y", f16, ["num_tokens", 32]),
            helper.make_tensor_value_info("present_key", f16, cache),
            helper.make_tensor_value_info("present_value", f16, cache),
        ],
        [
            numpy_helper.from_array(np.ones((64, 8), np.float16), "cos_cache"),
            numpy_helper.from_array(np.zeros((64, 8), np.float16), "sin_cache"),
            numpy_helper.from_array(np.ones(32, np.float16), "gamma"),
        ],
        value_info=[helper.make_tensor_value_info("attn", f16, ["num_tokens", 32])],
    )
    opsets = [helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)]
    src, out = tmp_path / "paged.onnx", tmp_path / "out.onnx"
    onnx.save(helper.make_model(graph, opset_imports=opsets), src)
    assert main([str(src), "-o", str(out), "--decompose-contrib"]) == 0
    err = capsys.readouterr().err
    assert "over 2 steps" in err and "boundary inputs random" in err
