"""decompose-dft: DFT nodes of fixed lengths → MatMul with cos/sin weights, compared with
numpy's FFT and with onnxruntime's DFT; trt-check names the pass, --auto applies it, and the
result parses with TensorRT-RTX."""

from __future__ import annotations

import importlib.util

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from trtforge.analyzer import check
from trtforge.analyzer.rewrite.verify import run_model, verify


def _dft(shape, opset=17, dft_length=None, axis_input=None, **attrs) -> onnx.ModelProto:
    inputs, inits = ["x"], []
    if dft_length is not None:
        inits.append(helper.make_tensor("n", TensorProto.INT64, [], [dft_length]))
    if dft_length is not None or axis_input is not None:
        inputs.append("n" if dft_length is not None else "")
    if axis_input is not None:
        inits.append(helper.make_tensor("axis", TensorProto.INT64, [], [axis_input]))
        inputs.append("axis")
    graph = helper.make_graph(
        [helper.make_node("DFT", inputs, ["y"], **attrs)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * len(shape))],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    return model


def _rewritten(rw, model):
    result = rw.apply(model, "decompose-dft")
    assert result.passes["decompose-dft"].applied == 1, result.passes["decompose-dft"].skips
    assert "DFT" not in {n.op_type for n in result.proto.graph.node}
    onnx.checker.check_model(result.proto, full_check=True)
    outcome = verify(model, result.proto)
    assert outcome.ok, outcome.describe_worst()
    return result.proto


def _complex(y: np.ndarray) -> np.ndarray:
    return y[..., 0] + 1j * y[..., 1]


RNG = np.random.default_rng(0)


def test_real_signal_on_axis_1(rw) -> None:
    out = _rewritten(rw, _dft([2, 12, 3, 1], axis=1))
    x = RNG.standard_normal((2, 12, 3, 1)).astype(np.float32)
    got = _complex(run_model(out, {"x": x})["y"])
    np.testing.assert_allclose(got, np.fft.fft(x[..., 0], axis=1), atol=1e-4)


def test_complex_inverse_on_the_last_signal_axis(rw) -> None:
    out = _rewritten(rw, _dft([3, 2, 10, 2], axis=2, inverse=1))
    x = RNG.standard_normal((3, 2, 10, 2)).astype(np.float32)
    got = _complex(run_model(out, {"x": x})["y"])
    np.testing.assert_allclose(got, np.fft.ifft(_complex(x), axis=2), atol=1e-5)


@pytest.mark.parametrize("length", [6, 16])
def test_onesided_with_dft_length_truncating_or_padding(rw, length) -> None:
    out = _rewritten(rw, _dft([4, 9, 1], axis=1, onesided=1, dft_length=length))
    x = RNG.standard_normal((4, 9, 1)).astype(np.float32)
    got = _complex(run_model(out, {"x": x})["y"])
    np.testing.assert_allclose(got, np.fft.rfft(x[..., 0], n=length, axis=1), atol=1e-4)


def test_opset20_axis_input_and_dynamic_batch(rw) -> None:
    out = _rewritten(rw, _dft(["B", 5, 8, 2], opset=20, axis_input=-3))
    x = RNG.standard_normal((3, 5, 8, 2)).astype(np.float32)
    got = _complex(run_model(out, {"x": x})["y"])
    np.testing.assert_allclose(got, np.fft.fft(_complex(x), axis=1), atol=1e-4)


def test_fnet_token_mixing_two_dfts(rw) -> None:
    """FNet's Re(fft2(x)) as the dynamo exporter writes it: DFT over the hidden axis, then
    over the sequence axis, then the real part."""
    graph = helper.make_graph(
        [
            helper.make_node("Unsqueeze", ["x", "last"], ["xc"]),
            helper.make_node("DFT", ["xc"], ["f1"], axis=2),
            helper.make_node("DFT", ["f1"], ["f2"], axis=1),
            helper.make_node("Gather", ["f2", "zero"], ["y"], axis=-1),
        ],
        "fnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 8, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 8, 16])],
        [
            helper.make_tensor("last", TensorProto.INT64, [1], [-1]),
            helper.make_tensor("zero", TensorProto.INT64, [], [0]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    model = onnx.shape_inference.infer_shapes(model)
    result = rw.apply(model, "decompose-dft")
    assert result.passes["decompose-dft"].applied == 2
    outcome = verify(model, result.proto)
    assert outcome.ok, outcome.describe_worst()
    x = RNG.standard_normal((2, 8, 16)).astype(np.float32)
    got = run_model(result.proto, {"x": x})["y"]
    np.testing.assert_allclose(got, np.fft.fft2(x, axes=(1, 2)).real, atol=1e-3)


@pytest.mark.parametrize(
    "model,why",
    [
        (_dft(["B", "L", 1], axis=1), "not static"),
        (_dft([2, 8, 2], axis=1, onesided=1, inverse=1), "onesided"),
        (_dft([2, 4096, 1], axis=1), "weights"),
        (_dft([2, 8, 1], axis=1, dft_length=0), "DFT length 0 is not positive"),
        (_dft([2, 8, 1], axis=1, dft_length=-5), "DFT length -5 is not positive"),
    ],
    ids=["dynamic-length", "onesided-inverse", "too-long", "length-0", "length-negative"],
)
def test_skips_with_reason(rw, model, why) -> None:
    result = rw.apply(model, "decompose-dft")
    assert not result.changed
    assert why in result.passes["decompose-dft"].skips[0].reason


def test_trt_check_names_the_pass_and_parser_takes_the_result(rw) -> None:
    model = _dft([1, 16, 1], axis=1)
    report = check(model, target="rtx-1", backend="static")
    (node,) = report.unsupported_nodes
    assert ("rewrite", "decompose-dft") in {(f.kind, f.name) for f in node.fixes}
    out = _rewritten(rw, model)
    assert check(out, target="rtx-1", backend="static").supported
    if importlib.util.find_spec("tensorrt_rtx") is not None:
        assert check(out, target="rtx-1", backend="parser", advice=False).supported
