"""Compute-op fixtures: single-node and small-chain models with the verdict TensorRT-RTX 1.7.1's
parser gives them, plus a type sweep.

Used twice: `test_compute_rules.py` checks the static verdicts (and, with tensorrt_rtx, the
parser's), and the agreement oracle loads `cases()` from this module (modules named
`oracle_cases*.py`) into its corpus. Each `Case` is (id, model, target, expected finding code or
None for supported); `TARGET_CASES` hold facts of other targets and are not parsed.
"""

from __future__ import annotations

from typing import NamedTuple

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper, numpy_helper


def _init(name: str, value) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def node_model(
    op: str,
    inputs: list[tuple[str, str, list]],
    *,
    node_inputs: list[str] | None = None,
    outputs: tuple[str, ...] = ("y",),
    out_type: str | None = None,
    attrs: dict | None = None,
    inits: tuple[onnx.TensorProto, ...] = (),
    opset: int = 21,
) -> onnx.ModelProto:
    """One `op` node; graph inputs (name, dtype, shape); output types from shape inference."""
    graph_inputs = [helper.make_tensor_value_info(n, getattr(TP, t), s) for n, t, s in inputs]
    names = (
        node_inputs
        if node_inputs is not None
        else [n for n, _, _ in inputs] + [t.name for t in inits]
    )
    node = helper.make_node(op, names, list(outputs), name=f"{op.lower()}_0", **(attrs or {}))
    first = outputs[0]
    graph_outputs = [
        helper.make_tensor_value_info(first, getattr(TP, out_type), None)
        if out_type
        else helper.make_empty_tensor_value_info(first)
    ]
    graph = helper.make_graph([node], "g", graph_inputs, graph_outputs, initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    if not out_type:
        inferred = onnx.shape_inference.infer_shapes(model)
        for vi in inferred.graph.output:
            if vi.name == first and vi.type.tensor_type.elem_type:
                model.graph.output[0].CopyFrom(vi)
    return model


class Case(NamedTuple):
    id: str
    model: onnx.ModelProto
    target: str = "rtx-1"
    code: str | None = None  # expected finding code; None: supported


X4 = ("x", "FLOAT", [1, 2, 4, 4])
F23 = ("x", "FLOAT", [2, 3])
ONES4 = _init("s", np.ones(4, np.float32))
ZEROS4 = _init("b", np.zeros(4, np.float32))
W = _init("w", np.ones((2, 2, 3, 3), np.float32))
BN = tuple(_init(n, np.ones(2, np.float32)) for n in ("bs", "bb", "bm", "bv"))
Q = ("q", "FLOAT", [1, 2, 4, 8])
K = ("k", "FLOAT", [1, 2, 6, 8])
V = ("v", "FLOAT", [1, 2, 6, 8])
SIG = ("sig", "FLOAT", [1, 64, 1])
FS = _init("fs", np.array(8, np.int64))
WIN = _init("win", np.ones(16, np.float32))


def _rnn(op: str, gates: int, dirs: int = 1, **attrs) -> onnx.ModelProto:
    w = _init("w", np.ones((dirs, gates * 4, 3), np.float32))
    r = _init("r", np.ones((dirs, gates * 4, 4), np.float32))
    return node_model(
        op, [("x", "FLOAT", [2, 1, 3])], attrs={"hidden_size": 4, **attrs}, inits=(w, r), opset=14
    )


def _with_outputs(model: onnx.ModelProto, *extra: str) -> onnx.ModelProto:
    model.graph.node[0].output.extend(extra)
    return model


CASES = [
    # elementwise
    Case("add-float", node_model("Add", [F23, ("z", "FLOAT", [2, 3])])),
    Case("add-int64", node_model("Add", [("x", "INT64", [2]), ("z", "INT64", [2])])),
    Case(
        "add-uint8",
        node_model("Add", [("x", "UINT8", [2]), ("z", "UINT8", [2])]),
        code="unsupported-dtype",
    ),
    Case("add-bool", node_model("Or", [("x", "BOOL", [2]), ("z", "BOOL", [2])])),
    Case(
        "add-int16",
        node_model("Add", [("x", "INT16", [2]), ("z", "INT16", [2])]),
        code="unsupported-dtype",
    ),
    Case(
        "add-opset6",
        node_model("Add", [F23, ("z", "FLOAT", [2, 3])], opset=6),
        code="opset-out-of-range",
    ),
    Case(
        "prelu-opset6-bcast",
        node_model("PRelu", [F23, ("z", "FLOAT", [3])], opset=6),
        code="prelu/pre-opset7-broadcast",
    ),
    Case("equal-uint8", node_model("Equal", [("x", "UINT8", [2]), ("z", "UINT8", [2])])),
    Case("sin-int32", node_model("Sin", [("x", "INT32", [2])]), code="unsupported-dtype"),
    Case("abs-int32", node_model("Abs", [("x", "INT32", [2])])),
    Case(
        "not-float",
        node_model("Not", [("x", "FLOAT", [2])], out_type="BOOL"),
        code="unsupported-dtype",
    ),
    Case(
        "mod-fmod0-float", node_model("Mod", [F23, ("z", "FLOAT", [2, 3])]), code="mod/fmod-float"
    ),
    Case("mod-fmod1-float", node_model("Mod", [F23, ("z", "FLOAT", [2, 3])], attrs={"fmod": 1})),
    Case(
        "cast-to-fp8e5m2",
        node_model("Cast", [F23], attrs={"to": TP.FLOAT8E5M2}),
        code="cast/unsupported-target-type",
    ),
    Case(
        "cast-uint8-to-double", node_model("Cast", [("x", "UINT8", [2])], attrs={"to": TP.DOUBLE})
    ),
    Case(
        "clip-int8-dynamic-bounds",
        node_model("Clip", [("x", "INT8", [2])], node_inputs=["x", "", ""]),
        code="clip/quantized-dynamic-bounds",
    ),
    Case(
        "clip-float-tensor-bounds",
        node_model("Clip", [F23, ("lo", "FLOAT", []), ("hi", "FLOAT", [])]),
    ),
    # activations
    Case("relu-int64", node_model("Relu", [("x", "INT64", [2])])),
    Case("relu-int32", node_model("Relu", [("x", "INT32", [2])]), code="unsupported-dtype"),
    Case("celu-fp16", node_model("Celu", [("x", "FLOAT16", [2])]), code="unsupported-dtype"),
    Case("gelu-tanh", node_model("Gelu", [F23], attrs={"approximate": "tanh"})),
    Case("hardmax-int8", node_model("Hardmax", [("x", "INT8", [2, 3])]), code="unsupported-dtype"),
    Case(
        "swiglu",
        node_model("SwiGLU", [("x", "FLOAT", [2, 4])], out_type="FLOAT", opset=28),
        code="not-available",
    ),
    # reductions
    Case(
        "reducesum-axes-init",
        node_model("ReduceSum", [X4], inits=(_init("a", np.array([1], np.int64)),)),
    ),
    Case(
        "reducesum-axes-runtime",
        node_model("ReduceSum", [X4, ("a", "INT64", [1])]),
        code="input-not-constant",
    ),
    Case("reducemean-axes-attr", node_model("ReduceMean", [X4], attrs={"axes": [1]}, opset=13)),
    Case(
        "reducel2-int32",
        node_model("ReduceL2", [("x", "INT32", [2, 3])], opset=13),
        code="unsupported-dtype",
    ),
    Case("cumsum-runtime-axis", node_model("CumSum", [F23, ("a", "INT64", [])])),
    Case(
        "cumprod",
        node_model("CumProd", [F23], inits=(_init("a", np.array(1, np.int64)),), opset=26),
        code="not-available",
    ),
    # normalization
    Case(
        "batchnorm-training",
        node_model("BatchNormalization", [X4], inits=BN, attrs={"training_mode": 1}, opset=15),
        code="batchnormalization/training-mode",
    ),
    Case(
        "batchnorm-extra-outputs",
        _with_outputs(node_model("BatchNormalization", [X4], inits=BN, opset=15), "rm", "rv"),
        code="batchnormalization/extra-outputs",
    ),
    Case("layernorm", node_model("LayerNormalization", [X4], inits=(ONES4, ZEROS4), opset=17)),
    Case(
        "layernorm-mean-output",
        _with_outputs(
            node_model("LayerNormalization", [X4], inits=(ONES4, ZEROS4), opset=17),
            "mean",
            "inv_std",
        ),
        code="layernormalization/extra-outputs",
    ),
    Case(
        "layernorm-empty-extra-outputs",
        _with_outputs(
            node_model("LayerNormalization", [X4], inits=(ONES4, ZEROS4), opset=17), "", ""
        ),
    ),
    Case(
        "instancenorm-rank2",
        node_model(
            "InstanceNormalization",
            [("x", "FLOAT", [2, 3])],
            inits=(_init("s", np.ones(3, np.float32)), _init("b", np.zeros(3, np.float32))),
        ),
        code="instancenormalization/rank",
    ),
    Case(
        "groupnorm-21",
        node_model(
            "GroupNormalization",
            [X4],
            attrs={"num_groups": 1},
            out_type="FLOAT",
            inits=(_init("s", np.ones(2, np.float32)), _init("b", np.zeros(2, np.float32))),
        ),
    ),
    Case(
        "lpnorm-p3", node_model("LpNormalization", [X4], attrs={"p": 3}), code="lpnormalization/p"
    ),
    Case(
        "lrn-rank3",
        node_model("LRN", [("x", "FLOAT", [1, 2, 4])], attrs={"size": 3}),
        code="lrn/rank",
    ),
    Case(
        "mvn-fp16",
        node_model("MeanVarianceNormalization", [("x", "FLOAT16", [1, 2, 4, 4])]),
        code="unsupported-dtype",
    ),
    Case("rmsnorm", node_model("RMSNormalization", [X4], inits=(ONES4,), opset=23)),
    # convolution and pooling
    Case(
        "conv-1d",
        node_model(
            "Conv", [("x", "FLOAT", [1, 2, 8])], inits=(_init("w", np.ones((2, 2, 3), np.float32)),)
        ),
    ),
    Case("conv-runtime-weights", node_model("Conv", [X4, ("w", "FLOAT", [2, 2, 3, 3])])),
    Case(
        "conv-symbolic-weight-channels",
        node_model("Conv", [X4, ("w", "FLOAT", ["O", "I", 3, 3])], out_type="FLOAT"),
        code="conv/dynamic-channels",
    ),
    Case(
        "conv-symbolic-input-channels",
        node_model("Conv", [("x", "FLOAT", [1, "C", 4, 4])], inits=(W,), out_type="FLOAT"),
    ),
    Case(
        "convtranspose-symbolic-input-channels",
        node_model("ConvTranspose", [("x", "FLOAT", [1, "C", 4, 4])], inits=(W,), out_type="FLOAT"),
        code="convtranspose/dynamic-channels",
    ),
    Case(
        "conv-fp16-data-fp32-weights",
        node_model("Conv", [("x", "FLOAT16", [1, 2, 4, 4])], inits=(W,), out_type="FLOAT16"),
        code="conv/mixed-types",
    ),
    Case(
        "matmul-fp16-fp32",
        node_model(
            "MatMul", [("a", "FLOAT16", [2, 3]), ("b", "FLOAT", [3, 4])], out_type="FLOAT16"
        ),
        code="matmul/mixed-types",
    ),
    Case(
        "batchnorm-fp16-data-fp32-params",
        node_model(
            "BatchNormalization",
            [("x", "FLOAT16", [1, 2, 4, 4])],
            inits=BN,
            opset=15,
            out_type="FLOAT16",
        ),
    ),
    Case(
        "conv-4d-spatial",
        node_model(
            "Conv",
            [("x", "FLOAT", [1, 2, 4, 4, 4, 4])],
            inits=(_init("w", np.ones((2, 2, 2, 2, 2, 2), np.float32)),),
        ),
        code="conv/spatial-rank",
    ),
    Case(
        "deformconv",
        node_model(
            "DeformConv",
            [X4, ("off", "FLOAT", [1, 18, 2, 2])],
            node_inputs=["x", "w", "off"],
            inits=(W,),
            opset=19,
        ),
        code="not-available",
    ),
    Case(
        "maxpool-indices",
        _with_outputs(node_model("MaxPool", [X4], attrs={"kernel_shape": [2, 2]}), "idx"),
        code="maxpool/extra-outputs",
    ),
    Case(
        "maxpool-dilations",
        node_model(
            "MaxPool",
            [("x", "FLOAT", [1, 2, 8, 8])],
            attrs={"kernel_shape": [2, 2], "dilations": [2, 2]},
        ),
        code="maxpool/dilations",
    ),
    Case(
        "avgpool-1d",
        node_model("AveragePool", [("x", "FLOAT", [1, 2, 8])], attrs={"kernel_shape": [2]}),
    ),
    Case(
        "lppool-p3",
        node_model("LpPool", [X4], attrs={"kernel_shape": [2, 2], "p": 3}),
        code="lppool/p",
    ),
    Case(
        "roialign",
        node_model("RoiAlign", [X4, ("rois", "FLOAT", [3, 4]), ("idx", "INT64", [3])]),
        code="not-available",
    ),
    # matrix products
    Case(
        "matmul-int32",
        node_model("MatMul", [("a", "INT32", [2, 3]), ("b", "INT32", [3, 2])]),
        code="unsupported-dtype",
    ),
    Case(
        "matmul-vector-batched",
        node_model("MatMul", [("a", "FLOAT", [3]), ("b", "FLOAT", [2, 3, 4])]),
        code="matmul/vector-times-batched",
    ),
    Case(
        "einsum-ellipsis",
        node_model(
            "Einsum",
            [("a", "FLOAT", [2, 3, 4]), ("b", "FLOAT", [2, 4, 5])],
            attrs={"equation": "...ij,...jk->...ik"},
        ),
    ),
    Case(
        "einsum-upper-case",
        node_model(
            "Einsum",
            [("a", "FLOAT", [2, 3]), ("b", "FLOAT", [3, 4])],
            attrs={"equation": "IJ,JK->IK"},
        ),
        code="einsum/equation-characters",
    ),
    Case("det", node_model("Det", [("a", "FLOAT", [3, 3])]), code="not-available"),
    # attention
    Case("attention", node_model("Attention", [Q, K, V], opset=23)),
    Case(
        "attention-softcap",
        node_model("Attention", [Q, K, V], attrs={"softcap": 2.0}, opset=23),
        code="attention/softcap",
    ),
    Case(
        "attention-causal-with-mask",
        node_model(
            "Attention", [Q, K, V, ("m", "FLOAT", [1, 2, 4, 6])], attrs={"is_causal": 1}, opset=23
        ),
        code="attention/causal-with-mask",
    ),
    Case(
        "attention-kv-shapes",
        node_model("Attention", [Q, K, ("v", "FLOAT", [1, 2, 6, 16])], opset=23),
        code="attention/kv-shape",
    ),
    Case(
        "attention-mask-shape",
        node_model("Attention", [Q, K, V, ("m", "FLOAT", [4, 4])], opset=23),
        code="attention/mask-shape",
    ),
    Case(
        "attention-present-outputs",
        _with_outputs(node_model("Attention", [Q, K, V], opset=23), "pk", "pv"),
        code="attention/extra-outputs",
    ),
    Case(
        "rotary-embedding",
        node_model(
            "RotaryEmbedding",
            [Q],
            opset=23,
            inits=(
                _init("c", np.ones((4, 4), np.float32)),
                _init("s", np.ones((4, 4), np.float32)),
                _init("p", np.zeros((1, 4), np.int64)),
            ),
        ),
    ),
    # recurrent
    Case("lstm-bidirectional", _rnn("LSTM", 4, dirs=2, direction="bidirectional")),
    Case("lstm-input-forget", _rnn("LSTM", 4, input_forget=1), code="lstm/input-forget"),
    Case(
        "rnn-affine",
        _rnn("RNN", 1, activations=["Affine"], activation_alpha=[1.0], activation_beta=[0.0]),
        code="rnn/activation",
    ),
    Case(
        "gru-bidirectional-mixed",
        _rnn(
            "GRU",
            3,
            dirs=2,
            direction="bidirectional",
            activations=["Relu", "Tanh", "Sigmoid", "Tanh"],
        ),
        code="gru/bidirectional-activations",
    ),
    # quantization
    Case(
        "quantize-int8",
        node_model(
            "QuantizeLinear",
            [F23],
            inits=(_init("qs", np.array(0.5, np.float32)), _init("qz", np.array(0, np.int8))),
        ),
    ),
    Case(
        "quantize-nonzero-zero-point",
        node_model(
            "QuantizeLinear",
            [F23],
            inits=(_init("qs", np.array(0.5, np.float32)), _init("qz", np.array(3, np.int8))),
        ),
        code="quantizelinear/nonzero-zero-point",
    ),
    Case(
        "quantize-negative-scale",
        node_model(
            "QuantizeLinear",
            [F23],
            inits=(_init("qs", np.array(-0.5, np.float32)), _init("qz", np.array(0, np.int8))),
        ),
        code="quantizelinear/scale-not-positive",
    ),
    Case(
        "quantize-uint8-output-dtype",
        node_model(
            "QuantizeLinear",
            [F23],
            attrs={"output_dtype": TP.UINT8},
            inits=(_init("qs", np.array(0.5, np.float32)),),
        ),
        code="quantizelinear/output-dtype",
    ),
    Case(
        "quantize-int4-odd",
        node_model(
            "QuantizeLinear",
            [("x", "FLOAT", [3])],
            attrs={"output_dtype": TP.INT4},
            inits=(_init("qs", np.array(0.5, np.float32)),),
        ),
        code="quantizelinear/odd-4bit-volume",
    ),
    Case(
        "dequantize-int8",
        node_model(
            "DequantizeLinear",
            [("x", "INT8", [2, 4])],
            inits=(_init("qs", np.array(0.5, np.float32)),),
        ),
    ),
    Case(
        "dequantize-uint8",
        node_model(
            "DequantizeLinear",
            [("x", "UINT8", [2, 4])],
            inits=(_init("qs", np.array(0.5, np.float32)),),
        ),
        code="unsupported-dtype",
    ),
    Case(
        "dynamic-quantize",
        node_model("DynamicQuantizeLinear", [F23], outputs=("y",), out_type="UINT8", opset=11),
        code="not-available",
    ),
    # signal
    Case(
        "stft",
        node_model("STFT", [SIG], node_inputs=["sig", "fs", "win"], inits=(FS, WIN), opset=17),
    ),
    Case(
        "stft-runtime-window",
        node_model(
            "STFT",
            [SIG, ("win", "FLOAT", [16])],
            node_inputs=["sig", "fs", "win"],
            inits=(FS,),
            opset=17,
        ),
        code="input-not-constant",
    ),
    Case(
        "hann-fp16",
        node_model(
            "HannWindow", [("n", "INT64", [])], attrs={"output_datatype": TP.FLOAT16}, opset=17
        ),
        code="hannwindow/output-datatype",
    ),
    Case(
        "dft",
        node_model("DFT", [("x", "FLOAT", [1, 8, 1])], opset=19, out_type="FLOAT"),
        code="not-available",
    ),
    # random, dropout, losses
    Case(
        "randomnormal-bf16",
        node_model("RandomNormal", [], attrs={"shape": [2, 3], "dtype": TP.BFLOAT16}),
        code="randomnormal/dtype",
    ),
    Case("randomuniformlike", node_model("RandomUniformLike", [F23])),
    Case(
        "dropout-inference",
        node_model(
            "Dropout",
            [F23],
            opset=13,
            inits=(_init("r", np.array(0.5, np.float32)), _init("t", np.array(False))),
        ),
    ),
    Case(
        "dropout-training",
        node_model(
            "Dropout",
            [F23],
            opset=13,
            inits=(_init("r", np.array(0.5, np.float32)), _init("t", np.array(True))),
        ),
        code="dropout/training-mode",
    ),
    Case(
        "dropout-runtime-training",
        node_model("Dropout", [F23, ("r", "FLOAT", []), ("t", "BOOL", [])], opset=13),
        code="dropout/training-mode-not-constant",
    ),
    Case(
        "bitshift",
        node_model(
            "BitShift",
            [("x", "INT32", [2]), ("z", "INT32", [2])],
            attrs={"direction": "LEFT"},
            opset=11,
            out_type="INT32",
        ),
        code="not-available",
    ),
]

# Target-specific facts (static only: no TensorRT parser of these releases runs here).
TARGET_CASES = [
    Case(
        "cumsum-runtime-axis-trt-10.7",
        node_model("CumSum", [F23, ("a", "INT64", [])]),
        target="trt-10.7",
        code="cumsum/axis-not-constant",
    ),
    Case(
        "cumsum-runtime-axis-trt-10.8",
        node_model("CumSum", [F23, ("a", "INT64", [])]),
        target="trt-10.8",
    ),
    Case(
        "attention-trt-10.13",
        node_model("Attention", [Q, K, V], opset=23),
        target="trt-10.13",
        code="not-available",
    ),
    Case("attention-trt-10.14", node_model("Attention", [Q, K, V], opset=23), target="trt-10.14"),
    Case(
        "deformconv-trt-10",
        node_model(
            "DeformConv",
            [X4, ("off", "FLOAT", [1, 18, 2, 2])],
            node_inputs=["x", "w", "off"],
            inits=(W,),
            opset=19,
        ),
        target="trt-10",
    ),
    Case(
        "roialign-trt-11",
        node_model("RoiAlign", [X4, ("rois", "FLOAT", [3, 4]), ("idx", "INT64", [3])]),
        target="trt-11",
    ),
    Case(
        "groupnorm-21-trt-10.8",
        node_model(
            "GroupNormalization",
            [X4],
            attrs={"num_groups": 1},
            out_type="FLOAT",
            inits=(_init("s", np.ones(2, np.float32)), _init("b", np.zeros(2, np.float32))),
        ),
        target="trt-10.8",
        code="groupnormalization/opset-21",
    ),
    Case(
        "einsum-ellipsis-trt-10.11",
        node_model(
            "Einsum",
            [("a", "FLOAT", [2, 3, 4]), ("b", "FLOAT", [2, 4, 5])],
            attrs={"equation": "...ij,...jk->...ik"},
        ),
        target="trt-10.11",
        code="einsum/ellipsis",
    ),
    Case(
        "fp4-dequantize-trt-10.7",
        node_model(
            "DequantizeLinear",
            [("x", "FLOAT4E2M1", [2, 4])],
            inits=(_init("qs", np.array(0.5, np.float32)),),
            opset=23,
        ),
        target="trt-10.7",
        code="unsupported-dtype",
    ),
    Case(
        "fp4-dequantize-trt-10.8",
        node_model(
            "DequantizeLinear",
            [("x", "FLOAT4E2M1", [2, 4])],
            inits=(_init("qs", np.array(0.5, np.float32)),),
            opset=23,
        ),
        target="trt-10.8",
    ),
    Case(
        "pow-int-exponent-trt-10.7",
        node_model("Pow", [F23, ("e", "INT32", [])]),
        target="trt-10.7",
        code="pow/integer-exponent",
    ),
    Case(
        "rmsnorm-trt-10.14",
        node_model("RMSNormalization", [X4], inits=(ONES4,), opset=23),
        target="trt-10.14",
        code="not-available",
    ),
    Case(
        "rmsnorm-trt-11",
        node_model("RMSNormalization", [X4], inits=(ONES4,), opset=23),
        target="trt-11",
    ),
    Case(
        "randomnormallike-constant-trt-10.10",
        node_model(
            "RandomNormalLike",
            [],
            node_inputs=["c"],
            inits=(_init("c", np.ones((2, 2), np.float32)),),
        ),
        target="trt-10.10",
        code="randomnormallike/constant-input",
    ),
]


def _chain(nodes, inputs, output, out_type="FLOAT", inits=(), opset=13) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, getattr(TP, t), s) for n, t, s in inputs],
        [helper.make_tensor_value_info(output, getattr(TP, out_type), None)],
        initializer=list(inits),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


_S = _init("s", np.array(0.5, np.float32))

# (id, model, index of the node judged, expected code or None)
CHAIN_CASES = [
    (
        "cast-to-uint8-intermediate",
        _chain(
            [
                helper.make_node("Cast", ["x"], ["u"], to=TP.UINT8, name="to_u8"),
                helper.make_node("Cast", ["u"], ["y"], to=TP.FLOAT, name="back"),
            ],
            [F23],
            "y",
        ),
        0,
        "uint8-intermediate",
    ),
    (
        "qdq-uint8-zero-point",
        _chain(
            [
                helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q"),
                helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="dq"),
            ],
            [F23],
            "y",
            inits=(_S, _init("z", np.array(0, np.uint8))),
        ),
        1,
        None,
    ),
    (
        "qdq-uint8-through-reshape",
        _chain(
            [
                helper.make_node("QuantizeLinear", ["x", "s"], ["q"], name="q"),
                helper.make_node("Identity", ["q"], ["r"], name="id"),
                helper.make_node("DequantizeLinear", ["r", "s"], ["y"], name="dq"),
            ],
            [F23],
            "y",
            inits=(_S,),
        ),
        2,
        None,
    ),
]


def _const(name: str, value) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=_init(name + "_v", value))


_AXES = [("x", "FLOAT", [1, 2, 4, 4])]
CHAIN_CASES += [
    (
        "reduce-axes-concat-of-constants",
        _chain(
            [
                _const("c1", np.array([1], np.int64)),
                _const("c2", np.array([2], np.int64)),
                helper.make_node("Concat", ["c1", "c2"], ["ax"], axis=0),
                helper.make_node("ReduceMean", ["x", "ax"], ["y"], name="mean"),
            ],
            _AXES,
            "y",
            opset=18,
        ),
        3,
        "input-not-constant",
    ),
    (
        "reduce-axes-cast-constant",
        _chain(
            [
                _const("c1", np.array([1], np.int32)),
                helper.make_node("Cast", ["c1"], ["ax"], to=TP.INT64),
                helper.make_node("ReduceMean", ["x", "ax"], ["y"], name="mean"),
            ],
            _AXES,
            "y",
            opset=18,
        ),
        2,
        None,
    ),
    (
        "stft-frame-step-through-identity",
        _chain(
            [
                helper.make_node("Identity", ["fs"], ["fs2"]),
                helper.make_node("STFT", ["sig", "fs2", "win"], ["y"], name="stft"),
            ],
            [SIG],
            "y",
            inits=(FS, WIN),
            opset=17,
        ),
        1,
        "input-not-constant",
    ),
]


# --- type sweep: each op as one node, its data inputs of every element type ------------------
# The verdicts are whatever the parser says; the oracle scores the static backend against them.

SWEEP_TYPES = (
    "FLOAT",
    "FLOAT16",
    "BFLOAT16",
    "DOUBLE",
    "INT32",
    "INT64",
    "INT8",
    "UINT8",
    "BOOL",
    "FLOAT8E4M3FN",
    "INT4",
    "FLOAT4E2M1",
    "INT16",
    "UINT16",
    "UINT32",
    "UINT64",
    "FLOAT8E5M2",
)
_FLOAT_INIT = {"FLOAT16": np.float16, "DOUBLE": np.float64, "BFLOAT16": ml_dtypes.bfloat16}


def _t(shape=(1, 2, 4, 4)):
    return ("T", list(shape))


def _c(value):
    return ("C", np.asarray(value))


def _sweep_specs():
    """(op, inputs, attrs, opset): inputs are ("T", shape) swept, or ("C", value) initializers."""
    specs = []
    unary = (
        "Abs Acos Acosh Asin Asinh Atan Atanh Ceil Cos Cosh Erf Exp Floor Log Neg Reciprocal "
        "Round Sign Sin Sinh Sqrt Tan Tanh IsInf IsNaN Not Celu Elu Gelu HardSigmoid HardSwish "
        "LeakyRelu Mish Relu Selu Shrink Sigmoid Softplus Softsign Swish ThresholdedRelu Hardmax "
        "LogSoftmax Softmax ArgMax ArgMin GlobalAveragePool GlobalMaxPool GlobalLpPool "
        "LpNormalization MeanVarianceNormalization Dropout RandomNormalLike RandomUniformLike"
    ).split()
    for op in unary:
        specs.append((op, [_t()], {}, 21))
    binary = (
        "Add And Div Equal Greater GreaterOrEqual Less LessOrEqual Max Mean Min Mod Mul Or Pow "
        "Sub Sum Xor PRelu MatMul Gemm"
    ).split()
    for op in binary:
        shape = (2, 2) if op == "Gemm" else (1, 2, 4, 4)
        specs.append((op, [_t(shape), _t(shape)], {}, 21))
    specs.append(("Clip", [_t()], {}, 21))
    specs.append(("Cast", [_t()], {"to": TP.FLOAT}, 21))
    axes = _c(np.array([1], np.int64))
    for op in (
        "ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin "
        "ReduceProd ReduceSum ReduceSumSquare"
    ).split():
        specs.append((op, [_t(), axes], {}, 18))
    specs.append(("CumSum", [_t(), _c(np.array(1, np.int64))], {}, 21))
    specs.append(("AveragePool", [_t()], {"kernel_shape": [2, 2]}, 21))
    specs.append(("MaxPool", [_t()], {"kernel_shape": [2, 2]}, 21))
    specs.append(("LpPool", [_t()], {"kernel_shape": [2, 2]}, 21))
    specs.append(("LRN", [_t()], {"size": 3}, 21))
    ones2 = _c(np.ones(2, np.float32))
    specs.append(("BatchNormalization", [_t(), ones2, ones2, ones2, ones2], {}, 15))
    specs.append(("InstanceNormalization", [_t(), ones2, ones2], {}, 21))
    ones4 = _c(np.ones(4, np.float32))
    specs.append(("LayerNormalization", [_t(), ones4, ones4], {}, 17))
    specs.append(("RMSNormalization", [_t(), ones4], {}, 23))
    specs.append(("Conv", [_t(), _c(np.ones((2, 2, 3, 3), np.float32))], {}, 21))
    specs.append(("ConvTranspose", [_t(), _c(np.ones((2, 2, 3, 3), np.float32))], {}, 21))
    specs.append(("Einsum", [_t((2, 3)), _t((3, 2))], {"equation": "ij,jk->ik"}, 21))
    specs.append(("QuantizeLinear", [_t((2, 4)), _c(np.array(1.0, np.float32))], {}, 21))
    specs.append(("DequantizeLinear", [_t((2, 4)), _c(np.array(1.0, np.float32))], {}, 21))
    return specs


def _sweep_model(op, inputs, attrs, opset, dtype):
    graph_inputs, inits, names = [], [], []
    for i, (kind, value) in enumerate(inputs):
        name = f"i{i}"
        names.append(name)
        if kind == "C":
            if value.dtype == np.float32 and dtype in _FLOAT_INIT:
                value = value.astype(_FLOAT_INIT[dtype])  # keep float parameters in X's type
            inits.append(numpy_helper.from_array(value, name))
        else:
            graph_inputs.append(helper.make_tensor_value_info(name, getattr(TP, dtype), value))
    node = helper.make_node(op, names, ["y"], name=f"{op.lower()}_0", **attrs)
    graph = helper.make_graph(
        [node], "g", graph_inputs, [helper.make_empty_tensor_value_info("y")], initializer=inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except Exception:  # not a valid ONNX model for this type: not a fixture
        return None
    out = inferred.graph.output[0]
    if not out.type.tensor_type.elem_type:
        return None
    model.graph.output[0].CopyFrom(out)
    return model


def sweep_cases():
    """(name, model) for every valid (op, element type) pair of the sweep."""
    out = []
    for op, inputs, attrs, opset in _sweep_specs():
        for dtype in SWEEP_TYPES:
            model = _sweep_model(op, inputs, attrs, opset, dtype)
            if model is not None:
                out.append((f"sweep/{op}/{dtype}", model))
    return out


def cases():
    """(name, model) for the agreement oracle: rtx-1 cases, chains and the type sweep."""
    out = [(f"compute/{c.id}", c.model) for c in CASES]
    out += [(f"compute/{c[0]}", c[1]) for c in CHAIN_CASES]
    return out + sweep_cases()
