"""trt-quantize: calibration into symmetric INT8 Q/DQ that TensorRT takes."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer.errors import UserError
from trtforge.analyzer.quantize import agreement, quantize, select_excluded

pytest.importorskip("onnxruntime.quantization")
HAS_RTX = importlib.util.find_spec("tensorrt_rtx") is not None


def _model(opset: int = 17) -> onnx.ModelProto:
    """Conv+ReLU, a residual block (Conv, Add of two computed tensors), Gemm, MatMul head."""
    rng = np.random.default_rng(0)

    def w(name, shape, scale=0.3):
        return numpy_helper.from_array(
            (rng.standard_normal(shape) * scale).astype(np.float32), name
        )

    nodes = [
        helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], name="stem", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="stem_relu"),
        helper.make_node("Conv", ["r1", "W2"], ["c2"], name="block_conv", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "r1"], ["res"], name="residual"),
        helper.make_node("GlobalAveragePool", ["res"], ["g"], name="pool"),
        helper.make_node("Flatten", ["g"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "Wg", "Bg"], ["h"], name="fc", transB=1),
        helper.make_node("Relu", ["h"], ["hr"], name="fc_relu"),
        helper.make_node("MatMul", ["hr", "Wh"], ["m"], name="head"),
        helper.make_node("Add", ["m", "Bh"], ["logits"], name="head_bias"),
    ]
    graph = helper.make_graph(
        nodes,
        "net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        [
            w("W1", (8, 3, 3, 3)),
            w("B1", (8,), 0.1),
            w("W2", (8, 8, 3, 3)),
            w("Wg", (16, 8)),
            w("Bg", (16,), 0.1),
            w("Wh", (16, 10)),
            w("Bh", (10,), 0.1),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7 if opset < 15 else 8
    return model


def _feeds(n: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [{"x": rng.standard_normal((1, 3, 16, 16)).astype(np.float32)} for _ in range(n)]


def _qdq_inputs(model: onnx.ModelProto) -> dict[str, list[bool]]:
    """Per node name: which inputs are produced by a DequantizeLinear."""
    dq = {o for n in model.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    return {n.name: [i in dq for i in n.input] for n in model.graph.node if n.name}


def _check_tensorrt_form(model: onnx.ModelProto) -> None:
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            assert np.all(inits[node.input[1]] > 0)
            if len(node.input) > 2 and node.input[2]:
                zp = inits[node.input[2]]
                assert zp.dtype == np.int8 and not zp.any(), node.name
        if node.op_type == "DequantizeLinear" and node.input[0] in inits:
            assert inits[node.input[0]].dtype == np.int8, "weights INT8 (biases stay float)"


@pytest.mark.parametrize("method", ["entropy", "minmax", "percentile"])
def test_qdq_placement_and_form(method):
    result = quantize(_model(), _feeds(), method=method)
    onnx.checker.check_model(result.proto, full_check=True)
    _check_tensorrt_form(result.proto)
    qdq = _qdq_inputs(result.proto)
    for conv in ("stem", "block_conv"):
        assert qdq[conv][:2] == [True, True], conv  # activation and weight
        assert not qdq[conv][2:] or qdq[conv][2] is False  # float bias
    assert qdq["fc"][:2] == [True, True]
    assert qdq["head"] == [True, True]
    assert qdq["residual"] == [True, True]  # residual Add: both computed inputs
    assert qdq["head_bias"][1] is False  # a bias Add: its constant stays float
    # per-channel weights: the conv weight's scale has one value per output channel
    inits = {i.name: numpy_helper.to_array(i) for i in result.proto.graph.initializer}
    producers = {o: n for n in result.proto.graph.node for o in n.output}
    stem = next(n for n in result.proto.graph.node if n.name == "stem")
    assert inits[producers[stem.input[1]].input[1]].shape == (8,)
    assert result.agreement[0].cosine > 0.99
    assert result.agreement[0].top1_agreement is not None


def test_per_tensor_and_excluded_head():
    model = _model()
    assert select_excluded(model, [], keep_float_head=True)[:1] == ["head"]
    result = quantize(model, _feeds(), per_channel=False, keep_float_head=True, exclude=["Gemm"])
    qdq = _qdq_inputs(result.proto)
    assert qdq["head"] == [False, False] and qdq["fc"][:2] == [False, False]
    assert qdq["stem"][:2] == [True, True]
    inits = {i.name: numpy_helper.to_array(i) for i in result.proto.graph.initializer}
    scales = [inits[n.input[1]] for n in result.proto.graph.node if n.op_type == "DequantizeLinear"]
    assert all(s.size == 1 for s in scales)


def test_exclude_by_pattern_and_errors():
    model = _model()
    assert set(select_excluded(model, ["^block"], False)) >= {"block_conv"}
    with pytest.raises(UserError):
        select_excluded(model, ["no_such_node"], False)


def test_opset_11_input_is_converted():
    result = quantize(_model(11), _feeds())
    assert result.converted_from == 11
    opset = next(o.version for o in result.proto.opset_import if o.domain in ("", "ai.onnx"))
    assert opset >= 13
    onnx.checker.check_model(result.proto, full_check=True)
    _check_tensorrt_form(result.proto)


def test_agreement_reports_disagreement():
    model = _model()
    feeds = _feeds(3)
    same = agreement(model, model, feeds)
    assert same[0].cosine == pytest.approx(1.0) and same[0].max_abs_error == 0
    assert same[0].top1_agreement == 1.0
    negated = onnx.ModelProto()
    negated.CopyFrom(model)
    for init in negated.graph.initializer:
        if init.name in ("Wh", "Bh"):
            init.CopyFrom(numpy_helper.from_array(-numpy_helper.to_array(init), init.name))
    flipped = agreement(model, negated, feeds)
    assert flipped[0].cosine < 0


def _classifier(flip: bool = False) -> onnx.ModelProto:
    """A scikit-learn-style classifier: Gemm scores, an int64 label, the same label as a
    string (LabelEncoder) and the probabilities as a sequence of maps (ZipMap), as skl2onnx
    writes them; `flip` negates the weights (every label changes)."""
    rng = np.random.default_rng(3)
    weight = rng.standard_normal((3, 6)).astype(np.float32) * (-1 if flip else 1)
    nodes = [
        helper.make_node("Gemm", ["x", "W", "B"], ["scores"], transB=1),
        helper.make_node("Softmax", ["scores"], ["prob"], axis=1),
        helper.make_node("ArgMax", ["prob"], ["label"], axis=1, keepdims=0),
        helper.make_node(
            "LabelEncoder",
            ["label"],
            ["name"],
            domain="ai.onnx.ml",
            keys_int64s=[0, 1, 2],
            values_strings=["cat", "dog", "eel"],
        ),
        helper.make_node(
            "ZipMap", ["prob"], ["probabilities"], domain="ai.onnx.ml", classlabels_int64s=[0, 1, 2]
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "classifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 6])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
            helper.make_tensor_value_info("name", TensorProto.STRING, [None]),
            helper.make_value_info(
                "probabilities",
                helper.make_sequence_type_proto(
                    helper.make_map_type_proto(
                        TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [])
                    )
                ),
            ),
        ],
        [
            numpy_helper.from_array(weight, "W"),
            numpy_helper.from_array(np.zeros(3, np.float32), "B"),
        ],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 2)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model


def test_labels_strings_and_maps_agree_element_by_element():
    """skl2onnx classifiers output labels (int64 or strings) and probabilities as a sequence
    of maps: trt-quantize's agreement compared them as float arrays and raised (every
    scikit-learn classifier with a Gemm or MatMul ended in a traceback)."""
    model = _classifier()
    rng = np.random.default_rng(0)
    feeds = [{"x": rng.standard_normal((8, 6)).astype(np.float32)} for _ in range(2)]
    same = {a.name: a for a in agreement(model, model, feeds)}
    assert set(same) == {"label", "name", "probabilities"}
    for a in same.values():
        assert a.cosine == pytest.approx(1.0) and a.max_abs_error == 0, a
    assert same["name"].top1_agreement == 1.0 and same["probabilities"].top1_agreement == 1.0
    flipped = {a.name: a for a in agreement(model, _classifier(flip=True), feeds)}
    for name in ("label", "name"):
        assert flipped[name].max_abs_error == 1.0
        assert flipped[name].cosine == flipped[name].top1_agreement < 0.5
    assert flipped["probabilities"].cosine < same["probabilities"].cosine
    result = quantize(model, feeds * 4, method="minmax")
    got = {a.name: a for a in result.agreement}
    assert got["probabilities"].cosine > 0.99 and 0.0 <= got["name"].cosine <= 1.0


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "trtforge.analyzer.cli.quantize", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )


def test_cli_writes_report_and_refuses_bad_data(tmp_path):
    src = tmp_path / "m.onnx"
    onnx.save(_model(), src)
    data = tmp_path / "cal"
    data.mkdir()
    for i, feed in enumerate(_feeds(10)):
        np.savez(data / f"{i:02d}.npz", **feed)
    out, report = tmp_path / "m.int8.onnx", tmp_path / "r.json"
    before = src.read_bytes()
    proc = _cli(
        src,
        "-o",
        out,
        "--calibration-data",
        data,
        "--report",
        report,
        "--target",
        "rtx-1",
        "--method",
        "minmax",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # onnxruntime's prints do not leak
    assert src.read_bytes() == before
    rep = json.loads(report.read_text())
    assert rep["schema"] == "trtforge.quantize/1" and rep["written"] is True
    assert rep["outputs"][0]["cosine"] > 0.99 and rep["holdout_samples"] == 2
    onnx.checker.check_model(onnx.load(out), full_check=True)

    # no data: refused with a hint; random calibration only when asked for
    proc = _cli(src, "-o", tmp_path / "x.onnx")
    assert proc.returncode == 2 and "--random-calibration" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2
    # a sample of the wrong shape
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((1, 3, 8, 8), np.float32))
    proc = _cli(src, "-o", tmp_path / "x.onnx", "--calibration-data", bad)
    assert proc.returncode == 2 and "shape" in proc.stderr
    assert not (tmp_path / "x.onnx").exists()
    # a threshold nobody meets: exit 1, nothing written
    proc = _cli(src, "-o", tmp_path / "y.onnx", "--calibration-data", data, "--min-cosine", "1")
    assert proc.returncode == 1 and "min-cosine" in proc.stderr
    assert "entropy calibration on 10 sample(s)" in proc.stderr  # few samples: warned
    assert not (tmp_path / "y.onnx").exists()


def test_cli_data_loader_script(tmp_path):
    src = tmp_path / "m.onnx"
    onnx.save(_model(), src)
    script = tmp_path / "loader.py"
    script.write_text(
        "import numpy as np\n"
        "def load_data():\n"
        "    rng = np.random.default_rng(1)\n"
        "    for _ in range(6):\n"
        "        yield {'x': rng.standard_normal((1, 3, 16, 16)).astype(np.float32)}\n"
    )
    proc = _cli(src, "-o", tmp_path / "q.onnx", "--calibration-data", f"{script}:load_data")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parser
@pytest.mark.skipif(not HAS_RTX, reason="needs tensorrt_rtx")
def test_result_parses_and_builds_for_sm89(tmp_path):
    result = quantize(_model(), _feeds())
    path = tmp_path / "q.onnx"
    onnx.save(result.proto, path)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "trtforge.plugins.cli.build",
            str(path),
            "-o",
            str(tmp_path / "q.engine"),
            "--compute-capability",
            "89",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "q.engine").stat().st_size > 0


def test_entropy_clips_where_minmax_takes_the_full_range():
    """onnxruntime's quantize_static alone gives entropy the scales of minmax (128 bins, one
    candidate threshold); trt-quantize runs the entropy search over 2048 bins."""

    def activation_scales(method):
        proto = quantize(_model(), _feeds(), method=method).proto
        inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
        return [
            float(inits[n.input[1]].ravel()[0])
            for n in proto.graph.node
            if n.op_type == "QuantizeLinear"
        ]

    entropy, minmax = activation_scales("entropy"), activation_scales("minmax")
    assert len(entropy) == len(minmax)
    assert all(e <= m * (1 + 1e-6) for e, m in zip(entropy, minmax, strict=True))
    assert any(e < m * 0.98 for e, m in zip(entropy, minmax, strict=True))


@pytest.mark.parametrize("fixture", ["vit_opset14.onnx", "bert_opset17.onnx"])
def test_committed_transformer_fixtures(tmp_path, fixture):
    """Real exports (tests/fixtures/hf): a ViT at opset 14 and a BERT with token ids — valid
    output in TensorRT's form, and (with TensorRT-RTX) a parse without unsupported nodes."""
    from pathlib import Path

    from trtforge.analyzer.rewrite.verify import make_inputs

    path = Path(__file__).parent / "fixtures" / "hf" / fixture
    model = onnx.load(path)
    feeds = [make_inputs(model, seed, {"batch": 1}) for seed in range(12)]
    result = quantize(model, feeds, method="minmax")
    onnx.checker.check_model(result.proto, full_check=True)
    _check_tensorrt_form(result.proto)
    assert result.qdq_nodes > 10
    assert all(a.cosine > 0.9 for a in result.agreement), result.agreement
    if HAS_RTX:
        from trtforge.analyzer.api import check

        report = check(result.proto, "rtx-1", "parser", advice=False)
        assert report.summary["unsupported"] == 0, report.summary


def test_checker_refuses_what_the_full_check_refuses():
    """trt-quantize's check of its result (`checker_refuses`) refuses exactly what
    `onnx.checker.check_model(full_check=True)` refuses, with its message, on valid models,
    models that only strict typed inference refuses, and models the plain checks refuse."""
    import onnx
    from onnx import TensorProto, helper

    from trtforge.analyzer.cli.quantize import checker_refuses

    def model(nodes, inputs, opset=17):
        graph = helper.make_graph(
            nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])]
        )
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    i = helper.make_tensor_value_info("i", TensorProto.INT64, [2, 3])
    cases = [
        model([helper.make_node("Relu", ["x"], ["y"])], [x]),
        model([helper.make_node("Add", ["x", "i"], ["y"])], [x, i]),  # types differ
        model([helper.make_node("MatMul", ["x", "x"], ["y"])], [x]),  # shapes do not fit
        model([helper.make_node("Relu", ["missing"], ["y"])], [x]),  # not topologically sorted
    ]
    refused = []
    for case in cases:
        try:
            onnx.checker.check_model(case, full_check=True)
            expected = None
        except Exception as err:  # noqa: BLE001
            expected = str(err).splitlines()[0][:200]
        got = checker_refuses(case)
        assert (got is None) == (expected is None)
        if expected is not None:
            assert expected in got
            refused.append(got)
    assert len(refused) == 3


@pytest.mark.parametrize("holdout", [-1, 20])
def test_a_holdout_that_leaves_no_sample_or_is_negative_is_refused(holdout):
    """A negative --holdout was taken as 0 (no accuracy report, silently)."""
    with pytest.raises(UserError, match="--holdout"):
        quantize(_model(), _feeds(20), holdout=holdout)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_calibration_samples_must_be_finite(value):
    """A NaN or an infinity in a sample took onnxruntime's calibrator down (a traceback)."""
    from trtforge.analyzer.calibration import check_feeds

    feeds = _feeds(4)
    feeds[2]["x"].flat[3] = value
    with pytest.raises(UserError, match="sample 2: 'x' holds NaN or infinite values"):
        check_feeds(_model(), feeds, "--calibration-data")


@pytest.mark.parametrize("method", ["entropy", "minmax", "percentile"])
def test_an_activation_that_is_not_finite_is_named(method):
    """Finite samples, and a Log of zero inside the model: no INT8 scale fits its output.
    onnxruntime failed in numpy's histogram or an assertion (a traceback, exit 3); the error
    names the tensor, its producer and the sample."""
    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 4] x) => (float[1, 4] y) <float[4, 4] w = {1,0,0,0,0,1,0,0,0,0,1,0,0,0,0,1}> {
          r = Relu(x)
          logs = Log(r)
          y = MatMul(logs, w)
        }"""
    )
    feeds = [{"x": np.full((1, 4), 0.5 + i, np.float32)} for i in range(4)]
    feeds.append({"x": np.full((1, 4), -1.0, np.float32)})  # Relu -> 0 -> Log -> -inf
    with pytest.raises(UserError, match=r"tensor 'logs' \(output of Log node .*\) is infinite"):
        quantize(model, feeds, method=method, holdout=0)
    quantize(model, feeds[:4], method=method, holdout=0)  # finite throughout: quantized


@pytest.mark.parametrize("method", ["entropy", "minmax", "percentile"])
def test_nodes_that_would_quantize_a_tensor_that_is_not_finite_stay_float(method, tmp_path):
    """A tensor that is not finite on a calibration sample (a Log of zero; a causal mask's
    -inf added to attention scores) has no INT8 scale; the nodes that would quantize it
    stay float, the rest is quantized, and the report names the tensors. (trt-quantize
    refused the whole model before: an attention block with its mask in the graph could not
    be quantized at all.)"""
    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x, float[2, 4] keep) => (float[2, 4] y, float[2, 4] z)
          <float[4, 4] w1 = {1,0,0,0,0,1,0,0,0,0,1,0,0,0,0,1},
           float[4, 4] w2 = {1,1,0,0,0,1,1,0,0,0,1,1,1,0,0,1},
           float[4, 4] w3 = {2,0,0,0,0,2,0,0,0,0,2,0,0,0,0,2}> {
          h = MatMul(x, w1)
          r = Relu(h)
          logs = Log(r)
          a = MatMul(logs, w2)
          scores = MatMul(h, w3)
          mask = Log(keep)
          masked = Add(scores, mask)
          y = Softmax<axis=-1>(masked)
          z = Tanh(a)
        }"""
    )
    rng = np.random.default_rng(0)
    causal = np.tril(np.ones((2, 4))).astype(np.float32)  # Log: 0 kept, -inf masked
    feeds = [
        {"x": np.abs(rng.standard_normal((2, 4))).astype(np.float32) + 0.1, "keep": causal}
        for _ in range(5)
    ]
    feeds[2]["x"][0, 0] = -1.0  # Relu -> 0 -> Log -> -inf on one sample
    result = quantize(model, feeds, method=method, holdout=1)
    assert {"logs", "mask", "masked"} <= set(result.non_finite)
    inputs = {n.output[0]: list(n.input) for n in result.proto.graph.node}
    assert inputs["a"][0] == "logs" and inputs["masked"][1] == "mask"  # float, no Q/DQ
    assert {"MatMul_3", "Add_6"} <= set(result.excluded)
    # the other MatMuls read their activations through Q/DQ
    assert inputs["h"][0] != "x" and inputs["scores"][0] != "h"
    assert result.qdq_nodes > 0 and result.to_json()["non_finite_tensors"] == result.non_finite
    onnx.checker.check_model(result.proto, full_check=True)
    if method != "minmax":
        return
    src, data, report = tmp_path / "m.onnx", tmp_path / "cal", tmp_path / "r.json"
    onnx.save(model, src)
    data.mkdir()
    for i, feed in enumerate(feeds):
        np.savez(data / f"{i}.npz", **feed)
    out = tmp_path / "m.int8.onnx"
    proc = _cli(src, "-o", out, "--calibration-data", data, "--method", method, "--report", report)
    assert proc.returncode == 0, proc.stderr
    assert (
        "kept float where a tensor is NaN, infinite, of float32's extreme magnitude or "
        "denormal on calibration ('logs'" in " ".join(proc.stderr.split())
    )
    assert "logs" in json.loads(report.read_text())["non_finite_tensors"]
    onnx.checker.check_model(onnx.load(out), full_check=True)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # numpy's, on the user's terminal
@pytest.mark.parametrize("method", ["entropy", "minmax"])
def test_an_attention_mask_of_the_lowest_float_stays_float(method):
    """The extended attention mask of every Hugging Face BERT, DistilBERT and GPT-2 export:
    (1 - mask) · finfo(float32).min, added to the attention scores. The histogram
    calibrators' symmetric range of that sum overflows float32 (numpy: "Cannot create 2048
    finite-sized bins": trt-quantize exited 3 on those models), and minmax made a scale
    that rounds every score to zero. The Add stays float; the MatMul is quantized, and the
    quantized model agrees with the float one."""
    lowest = float(np.finfo(np.float32).min)
    model = onnx.parser.parse_model(
        f"""<ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x, int64[2, 4] attention_mask) => (float[2, 4] y)
          <float[4, 4] w = {{1,1,0,0,0,1,1,0,0,0,1,1,1,0,0,1}}, float one = {{1.0}},
           float lowest = {{{lowest!r}}}> {{
          scores = MatMul(x, w)
          m = Cast<to=1>(attention_mask)
          inverted = Sub(one, m)
          extended = Mul(inverted, lowest)
          masked = Add(scores, extended)
          y = Softmax<axis=-1>(masked)
        }}"""
    )
    rng = np.random.default_rng(1)
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], np.int64)
    feeds = [
        {"x": rng.standard_normal((2, 4)).astype(np.float32), "attention_mask": mask}
        for _ in range(8)
    ]
    result = quantize(model, feeds, method=method, holdout=2)
    assert result.non_finite == ["extended", "masked"]
    inputs = {n.output[0]: list(n.input) for n in result.proto.graph.node}
    assert inputs["masked"][1] == "extended"  # the Add reads the mask as it is
    assert inputs["scores"][0] != "x"  # the MatMul reads its input through Q/DQ
    assert min(a.cosine for a in result.agreement) > 0.99
    onnx.checker.check_model(result.proto, full_check=True)


@pytest.mark.parametrize(
    "quantized",
    [
        "q = QuantizeLinear(x, s, z)\n y = DequantizeLinear(q, s, z)",
        "q, qs, qz = DynamicQuantizeLinear(x)\n y = DequantizeLinear(q, qs, qz)",
    ],
)
def test_a_quantized_model_is_refused(quantized, tmp_path):
    """A model that is quantized already (explicit Q/DQ, onnxruntime's dynamic or QOperator
    forms) is refused with what to do instead, before calibration: onnxruntime's quantizer
    stacked a second quantization on it or failed (exit 3 on the fixability corpus's
    quantized transformers)."""
    model = onnx.parser.parse_model(f"""<ir_version: 8, opset_import: ["" : 13]>
    g (float[2, 4] x) => (float[2, 4] y) <float s = {{0.1}}, uint8 z = {{128}}> {{
     {quantized}
    }}""")
    with pytest.raises(UserError, match="the model is quantized already") as raised:
        quantize(model, [{"x": np.ones((2, 4), np.float32)}] * 3)
    assert "trt-rewrite --requantize" in raised.value.hint
    src = tmp_path / "q.onnx"
    onnx.save(model, src)
    proc = _cli(src, "-o", tmp_path / "out.onnx", "--random-calibration")
    assert proc.returncode == 2 and "quantized already" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out.onnx").exists()


def test_an_ir_version_3_model_is_quantized():
    """The onnx wheel's PyTorch-converted models: IR version 3 (every initializer also a
    graph input), opset 6. The calibrator adds initializers that are not inputs, which IR 3
    forbids (onnxruntime refused the augmented model: exit 3); the working model takes the
    IR version of its converted opset."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["y"])],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8]),
            helper.make_tensor_value_info("w", TensorProto.FLOAT, [4, 3, 3, 3]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 6)], ir_version=3)
    feeds = [{"x": rng.standard_normal((1, 3, 8, 8)).astype(np.float32)} for _ in range(6)]
    result = quantize(model, feeds, method="minmax")
    assert result.converted_from == 6 and result.proto.ir_version >= 7
    assert result.qdq_nodes > 0 and min(a.cosine for a in result.agreement) > 0.99
    onnx.checker.check_model(result.proto, full_check=True)


def test_samples_the_model_cannot_run_on_are_a_user_error():
    """Samples that pass the input checks but that the model cannot run on (a Reshape to a
    size they do not have): a one-line error naming onnxruntime's reason (exit 3 before)."""
    model = onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
    g (float[N] x) => (float[2, 2] y)
      <int64[2] shape = {2, 3}, float[3, 2] w = {1, 2, 3, 4, 5, 6}> {
      r = Reshape(x, shape)
      y = MatMul(r, w)
    }""")
    feeds = [{"x": np.ones(5, np.float32)} for _ in range(3)]
    with pytest.raises(UserError, match="onnxruntime cannot run the model on the calibration"):
        quantize(model, feeds, method="minmax")


def _with_middle(node: str) -> onnx.ModelProto:
    """MatMul, `node` (reading h, writing h2), MatMul."""
    return onnx.parser.parse_model(f"""<ir_version: 8, opset_import: ["" : 17]>
    g (float[2, 4] x) => (float[2, 4] y)
      <float[4, 4] w = {{1,1,0,0,0,1,1,0,0,0,1,1,1,0,0,1}}, float[4] g = {{1, 1, 1, 1}},
       int64 zero = {{0}}> {{
      h = MatMul(x, w)
      {node}
      y = MatMul(h2, w)
    }}""")


def test_what_the_float_model_held_does_not_stop_the_write(tmp_path):
    """What the float model already held is not the quantization's doing: an unnamed node
    the target rejects (named for onnxruntime's exclusion list, it was counted as a new
    "quantization node" the target rejects: exit 1, nothing written)."""
    model = _with_middle("s = SequenceConstruct(h)\n      h2 = SequenceAt(s, zero)")
    for node in model.graph.node:
        node.name = ""
    src, out = tmp_path / "m.onnx", tmp_path / "m.int8.onnx"
    onnx.save(model, src)
    proc = _cli(src, "-o", out, "--random-calibration", "--method", "minmax", "--target", "rtx-1")
    assert proc.returncode == 0, proc.stderr
    quantized = onnx.load(out)
    assert sum(n.op_type == "QuantizeLinear" for n in quantized.graph.node) > 0


def test_an_onnxruntime_op_in_the_default_domain_is_rewritten_first(tmp_path):
    """onnxruntime writes SimplifiedLayerNormalization into the default domain (every
    onnxruntime-optimized Llama, Mistral, T5), where onnx defines no such op: the quantized
    model failed onnx.checker, which trt-quantize never writes (trt-rewrite refuses to write
    it too). Refused before calibrating, naming the rewrite that turns it into standard
    ops; the rewritten model quantizes."""
    model = _with_middle("h2 = SimplifiedLayerNormalization<axis=-1, epsilon=1e-5>(h, g)")
    src, out = tmp_path / "m.onnx", tmp_path / "m.int8.onnx"
    onnx.save(model, src)
    proc = _cli(src, "-o", out, "--random-calibration", "--method", "minmax")
    assert proc.returncode == 2 and not out.exists()
    assert "SimplifiedLayerNormalization in the default domain" in proc.stderr
    assert "--decompose-contrib" in proc.stderr and "Traceback" not in proc.stderr
    rewritten = tmp_path / "m.std.onnx"
    rewrite = subprocess.run(
        [
            sys.executable,
            "-m",
            "trtforge.analyzer.cli.rewrite",
            str(src),
            "-o",
            str(rewritten),
            "--decompose-contrib",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rewrite.returncode == 0, rewrite.stderr
    proc = _cli(rewritten, "-o", out, "--random-calibration", "--method", "minmax")
    assert proc.returncode == 0, proc.stderr
    onnx.checker.check_model(onnx.load(out), full_check=True)


def test_a_model_onnxruntime_cannot_load_is_a_user_error():
    """An op onnxruntime has no kernel for (the onnx wheel's training-domain Gradient): a
    one-line error saying that calibration runs in onnxruntime (exit 3 before)."""
    model = onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17, "x.custom" : 1]>
    g (float[2, 4] x) => (float[2, 4] y, float[2, 4] z)
      <float[4, 4] w = {1,1,0,0,0,1,1,0,0,0,1,1,1,0,0,1}> {
      y = MatMul(x, w)
      z = x.custom.Unknown(y)
    }""")
    feeds = [{"x": np.ones((2, 4), np.float32)} for _ in range(3)]
    with pytest.raises(UserError, match="onnxruntime cannot load the model to calibrate it"):
        quantize(model, feeds, method="minmax")


def test_a_model_with_nothing_to_quantize_is_refused():
    """No Conv, ConvTranspose, MatMul or Gemm (a scikit-learn pipeline of ai.onnx.ml ops), or
    none left outside --exclude: a one-line refusal. The histogram calibrators had no tensor
    to calibrate and raised ("Histogram has not been collected": exit 3 on every model of
    the fixability corpus's ml category)."""
    model = onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
    g (float[2, 4] x) => (float[2, 4] y) <float[4, 4] w = {1,1,0,0,0,1,1,0,0,0,1,1,1,0,0,1}> {
      h = MatMul(x, w)
      y = Relu(h)
    }""")
    feeds = [{"x": np.ones((2, 4), np.float32)} for _ in range(3)]
    with pytest.raises(UserError, match="outside --exclude") as raised:
        quantize(model, feeds, exclude=["MatMul"])
    assert "nothing to quantize: no Conv, ConvTranspose, MatMul or Gemm node" in str(raised.value)
    model.graph.node[0].op_type = "Add"
    with pytest.raises(UserError, match="nothing to quantize") as raised:
        quantize(model, feeds)
    assert "outside --exclude" not in str(raised.value)
    # an ai.onnx.ml model importing no default-domain opset (XGBoost's converter): said so,
    # not "cannot convert the model from opset 0"
    pipeline = onnx.parser.parse_model("""<ir_version: 8, opset_import: ["ai.onnx.ml" : 3]>
    g (float[2, 4] x) => (float[2, 4] y) { y = ai.onnx.ml.Normalizer<norm="L2">(x) }""")
    with pytest.raises(UserError, match="nothing to quantize"):
        quantize(pipeline, feeds)


def test_float16_weights_below_opset_19_are_refused():
    """FLOAT16 weights below opset 19 (onnxruntime's fp16-converted transformers): the
    quantizer gave them FLOAT16 scales, which DequantizeLinear takes only from opset 19, and
    the result did not load ("onnxruntime cannot run the model for verification"). Refused
    up front, naming the node and what to do."""
    model = onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
    g (float16[2, 4] x) => (float16[2, 4] y)
      <float16[4, 4] w = {1,1,0,0,0,1,1,0,0,0,1,1,1,0,0,1}> {
      y = MatMul(x, w)
    }""")
    model.graph.node[0].name = "proj"
    feeds = [{"x": np.ones((2, 4), np.float16)} for _ in range(3)]
    with pytest.raises(UserError, match=r"weights are FLOAT16 \(MatMul 'proj' and 0 more\)"):
        quantize(model, feeds, method="minmax")


def test_random_calibration_takes_inputs_the_model_runs_with(tmp_path):
    """A wav2vec2-style feature extractor (waveform [batch, time], Conv k=10 s=5 then k=3
    s=2) needs time >= 20: --random-calibration fed the first generated candidate (time 10)
    and refused every HuBERT/WavLM/Data2VecAudio export as if the samples were wrong; it
    now takes the first candidate onnxruntime runs, as verification does."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Unsqueeze", ["wave", "ax"], ["x"]),
        helper.make_node("Conv", ["x", "w1"], ["c1"], strides=[5]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["y"], strides=[2]),
    ]
    graph = helper.make_graph(
        nodes,
        "wave",
        [helper.make_tensor_value_info("wave", TensorProto.FLOAT, ["batch", "time"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8, "frames"])],
        [
            numpy_helper.from_array(np.array([1], np.int64), "ax"),
            numpy_helper.from_array(rng.standard_normal((8, 1, 10)).astype(np.float32), "w1"),
            numpy_helper.from_array(rng.standard_normal((8, 8, 3)).astype(np.float32), "w2"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    src, out = tmp_path / "wave.onnx", tmp_path / "wave.int8.onnx"
    onnx.save(model, src)
    proc = _cli(src, "-o", out, "--random-calibration", "--method", "minmax")
    assert proc.returncode == 0, proc.stderr
    quantized = onnx.load(out)
    assert any(n.op_type == "QuantizeLinear" for n in quantized.graph.node)


@pytest.mark.parametrize("method", ["entropy", "percentile"])
def test_a_tensor_of_denormals_stays_float(method):
    """A tensor of float32 denormals (max |x| ~1e-44: a tiny random EfficientNet's
    squeeze-excite) has no INT8 scale and no finite-sized histogram bins: the histogram
    methods stopped with "a tensor took NaN or infinite values", which it never did. The
    nodes quantizing it stay float, the rest is quantized, and the report names it."""
    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 4] y, float[2, 4] z)
          <float[4, 4] w1 = {1,0,0,0,0,1,0,0,0,0,1,0,0,0,0,1},
           float[4, 4] w2 = {1,1,0,0,0,1,1,0,0,0,1,1,1,0,0,1}, float tiny = {1e-44}> {
          h = MatMul(x, w1)
          d = Mul(h, tiny)
          y = MatMul(d, w2)
          z = MatMul(h, w2)
        }"""
    )
    rng = np.random.default_rng(0)
    feeds = [{"x": rng.standard_normal((2, 4)).astype(np.float32)} for _ in range(5)]
    result = quantize(model, feeds, method=method, holdout=1)
    assert "d" in result.non_finite
    assert result.qdq_nodes > 0
    quantized_inputs = {
        n.input[0] for n in result.proto.graph.node if n.op_type == "QuantizeLinear"
    }
    assert "d" not in quantized_inputs and "h" in quantized_inputs


@pytest.mark.parametrize("method", ["entropy", "percentile"])
def test_a_matmul_after_a_contrib_op_is_calibrated_by_the_histogram_methods(method):
    """After a com.microsoft op (onnxruntime's transformer optimizer fuses FastGelu,
    SkipLayerNormalization, Attention…) ONNX's inference types nothing, and onnxruntime's
    histogram calibrators select only typed tensors: none, and a traceback ("Histogram has
    not been collected", exit 3) for every optimized BERT-family export. The calibration
    copy now declares the element types onnxruntime's symbolic inference finds."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("FastGelu", ["x", "b"], ["g"], domain="com.microsoft"),
        helper.make_node("MatMul", ["g", "w"], ["mm"]),
        helper.make_node("Relu", ["mm"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16])],
        [
            numpy_helper.from_array(rng.standard_normal((16, 16)).astype(np.float32), "w"),
            numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "b"),
        ],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    feeds = [{"x": rng.standard_normal((1, 8, 16)).astype(np.float32)} for _ in range(6)]
    result = quantize(model, feeds, method=method, holdout=1)
    matmul_inputs = {"g", "w"}
    quantized = {n.input[0] for n in result.proto.graph.node if n.op_type == "QuantizeLinear"}
    assert matmul_inputs & quantized and result.agreement[0].cosine > 0.99


def test_dim_sizes_the_random_samples(tmp_path):
    """`--dim NAME=SIZE` sizes a named dynamic dim of the random samples (as trt-rewrite's
    verification inputs); an unknown name, a malformed value and `--dim` with
    `--calibration-data` are one-line errors (exit 2) that write nothing."""
    from trtforge.analyzer.cli.quantize import _random_feeds

    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[batch, seq, 4] x) => (float[batch, seq, 4] y)
          <float[4, 4] w = {1,0,0,0,0,1,0,0,0,0,1,0,0,0,0,1}> {
          h = MatMul(x, w)
          y = Relu(h)
        }"""
    )
    feeds = _random_feeds(model, {"seq": 7, "batch": 2})
    assert {f["x"].shape for f in feeds} == {(2, 7, 4)}
    src, out = tmp_path / "m.onnx", tmp_path / "m.int8.onnx"
    onnx.save(model, src)
    proc = _cli(src, "-o", out, "--random-calibration", "--method", "minmax", "--dim", "seq=7")
    assert proc.returncode == 0, proc.stderr
    data = tmp_path / "cal.npz"
    np.savez(data, x=np.ones((1, 5, 4), np.float32))
    for args, needle in (
        (["--random-calibration", "--dim", "sequence=7"], "no dynamic dim"),
        (["--random-calibration", "--dim", "seq"], "NAME=SIZE"),
        (["--calibration-data", data, "--dim", "seq=7"], "drop --dim"),
    ):
        bad = tmp_path / "bad.onnx"
        proc = _cli(src, "-o", bad, *args)
        assert proc.returncode == 2, proc.stderr
        assert needle in proc.stderr and "Traceback" not in proc.stderr
        assert not bad.exists()


def _stale_value_info_model() -> onnx.ModelProto:
    """A Constant of shape [1] declared rank 0 in value_info, as onnxruntime-genai's builder
    declares its `/model/constants/INT64/[1]`: onnx.checker passes, its full check does not."""
    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[batch, 8] x) => (float[batch, 8] y)
          <float[8, 8] w = {1,0,0,0,0,0,0,0, 0,1,0,0,0,0,0,0, 0,0,1,0,0,0,0,0, 0,0,0,1,0,0,0,0,
                            0,0,0,0,1,0,0,0, 0,0,0,0,0,1,0,0, 0,0,0,0,0,0,1,0, 0,0,0,0,0,0,0,1}> {
          h = MatMul(x, w)
          c = Constant <value = float[1] {1.0}> ()
          y = Add(h, c)
        }"""
    )
    model.graph.value_info.append(helper.make_tensor_value_info("c", TensorProto.FLOAT, []))
    onnx.checker.check_model(model)
    with pytest.raises(onnx.shape_inference.InferenceError):
        onnx.checker.check_model(model, full_check=True)
    return model


def test_value_info_that_inference_refutes_is_dropped(tmp_path):
    """trt-quantize checks what it writes with the full check, whose strict inference refuses
    a declaration it refutes: it calibrated, then refused "the quantized model" (exit 1) on
    every rewritten onnxruntime-genai export. The declaration is dropped up front."""
    src, out = tmp_path / "m.onnx", tmp_path / "q.onnx"
    onnx.save(_stale_value_info_model(), src)
    proc = _cli(src, "-o", out, "--random-calibration", "--method", "minmax")
    assert proc.returncode == 0, proc.stderr
    assert "dropped 1 value_info declaration(s)" in proc.stderr
    onnx.checker.check_model(str(out), full_check=True)


def test_the_report_is_json_when_a_figure_is_not_a_number():
    """An output holding NaN, or an agreement over no sample: null, not a bare NaN."""
    from trtforge.analyzer.cli.quantize import _json_text

    text = _json_text({"outputs": [{"max_abs_error": float("nan"), "cosine": 1.0}], "x": [-np.inf]})
    assert json.loads(text) == {"outputs": [{"max_abs_error": None, "cosine": 1.0}], "x": [None]}


def test_an_exclude_pattern_that_backtracks_without_end_is_stopped(monkeypatch):
    """Node names are the model's: '(a+)+$' on a 40-character name never returned."""
    import trtforge.analyzer.quantize as q

    model = _model()
    model.graph.node[0].name = "a" * 40 + "!"
    monkeypatch.setattr(q, "PATTERN_SECONDS", 0.5)
    with pytest.raises(UserError, match="takes more than 0.5 s"):
        select_excluded(model, ["(a+)+$"], False)
    assert "a" * 40 + "!" in select_excluded(model, ["^a+!$"], False)


def test_onnxruntime_logs_no_node_name_to_the_terminal(tmp_path):
    """A node name is the model's: onnxruntime's own log of a failing node printed its control
    characters raw (a terminal title, a cleared screen); trt-quantize's one line escapes them."""
    name = "\x1b]0;PWNED\x07\x1b[2JEVIL"
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["E", "ids"], ["e"], name=name),
            helper.make_node("MatMul", ["e", "W"], ["y"], name="mm"),
        ],
        "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4])],
        [
            numpy_helper.from_array(np.ones((10, 8), np.float32), "E"),
            numpy_helper.from_array(np.ones((8, 4), np.float32), "W"),
        ],
    )
    src = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), src)
    data = tmp_path / "c.npz"
    np.savez(data, ids=np.array([[1, 2, 1000]], np.int64))  # out of range: the run fails
    proc = _cli(src, "-o", tmp_path / "q.onnx", "--calibration-data", data, "--method", "minmax")
    assert proc.returncode == 2, proc.stderr
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr
    assert "cannot run the model" in proc.stderr


def test_a_weight_that_is_also_a_graph_input_stays_an_input():
    """An initializer that is also a graph input is a default the caller may feed: quantized
    as a weight it became a constant, and the written model refused the input. The node that
    reads it stays float; the others are quantized."""
    model = _model()
    wh = next(t for t in model.graph.initializer if t.name == "Wh")
    model.graph.input.append(helper.make_tensor_value_info("Wh", TensorProto.FLOAT, list(wh.dims)))
    result = quantize(model, _feeds())
    assert "Wh" in [v.name for v in result.proto.graph.input]
    assert "Wh" in {t.name for t in result.proto.graph.initializer}
    inputs = _qdq_inputs(result.proto)
    assert not any(inputs["head"]) and any(inputs["stem"])
    import onnxruntime as ort

    session = ort.InferenceSession(result.proto.SerializeToString())
    feeds = _feeds(1)[0]
    default = session.run(None, feeds)[0]
    fed = session.run(None, {**feeds, "Wh": np.ones(list(wh.dims), np.float32)})[0]
    assert not np.allclose(default, fed)  # the caller's value is read
