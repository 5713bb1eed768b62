# ruff: noqa: E501 (one ONNX-text model per line reads best)
"""Fixtures for the behaviours found by the held-out corpus variants (symbolic batch dims,
inputs as initializers, FLOAT16, other opsets), each with the verdict the TensorRT-RTX 1.7.1
parser gives it.

Every case isolates one general parser behaviour, on shapes and values of its own (never a
corpus model's), both sides of the limit. `test_heldout_rules.py` checks the static verdicts
(and, with tensorrt_rtx installed, the parser's); the agreement oracle loads `cases()` from this
module into its corpus. The module is self-contained (the oracle imports it by path).
"""

from __future__ import annotations

from typing import NamedTuple

import onnx
import onnx.parser


class Case(NamedTuple):
    id: str
    model: onnx.ModelProto
    code: str | None = None  # expected finding code on the last node; None: supported
    target: str = "rtx-1"


def _m(text: str, opset: int = 21) -> onnx.ModelProto:
    return onnx.parser.parse_model(f'<ir_version: 10, opset_import: ["": {opset}]>\n{text}')


_W9 = ",".join(["1"] * 9)
_W18 = ",".join(["1"] * 18)
_W128 = ",".join(["1"] * 128)
_W36 = ",".join(["0.1"] * 36)
_W48 = ",".join(["0.1"] * 48)
_W64 = ",".join(["0.1"] * 64)

# fmt: off
CASES: list[Case] = [
    # --- Conv / ConvTranspose: runtime weights and bias need a static shape
    Case("conv-wtensor-static", _m("g (float[N,1,5,5] x, float[2,1,3,3] w) => (float y) { y = Conv(x, w) }")),
    Case("conv-wtensor-dyn-maps", _m("g (float[1,1,5,5] x, float[M,1,3,3] w) => (float y) { y = Conv(x, w) }"), "conv/dynamic-weights"),
    Case("conv-wtensor-dyn-kernel", _m("g (float[1,1,5,5] x, float[2,1,K,K] w) => (float y) { y = Conv<kernel_shape=[3,3]>(x, w) }"), "conv/dynamic-weights"),
    Case("conv1d-wtensor-dyn-maps", _m("g (float[1,1,5] x, float[M,1,3] w) => (float y) { y = Conv(x, w) }"), "conv/dynamic-weights"),
    Case("conv-btensor-dyn", _m("g (float[1,1,5,5] x, float[2,1,3,3] w, float[M] b) => (float y) { y = Conv(x, w, b) }"), "conv/dynamic-weights"),
    Case("conv-winit-xdyn", _m(f"g (float[N,1,5,5] x) => (float y) <float[1,1,3,3] w = {{{_W9}}}> {{ y = Conv(x, w) }}")),
    # Tile repeats of rank 2 (TorchScript's tensor_split, in Mamba): ONNX inference passes them
    Case("tile-repeats-rank2", _m("g (float[2,3] x, int64[2] a) => (float y) <int64[1] z = {0}> { r = Unsqueeze(a, z)\n y = Tile(x, r) }", 17), "tile/rank"),
    Case("tile-repeats-rank1", _m("g (float[2,3] x, int64[2] a) => (float y) { y = Tile(x, a) }", 17)),
    # weights computed from constants, whose dims ONNX leaves unknown (no value propagates through Identity): TensorRT folds them
    Case("conv-wconst-reshape-identity", _m(f"g (float[N,1,5,5] x) => (float y) <float[2,9] wf = {{{_W18}}}, int64[4] ws = {{2,1,3,3}}> {{ w0 = Relu(wf)\n s = Identity(ws)\n w = Reshape(w0, s)\n y = Conv(x, w) }}")),
    Case("deconv-wconst-reshape-identity", _m(f"g (float[N,1,3,3] x) => (float y) <float[1,18] wf = {{{_W18}}}, int64[4] ws = {{1,2,3,3}}> {{ w0 = Relu(wf)\n s = Identity(ws)\n w = Reshape(w0, s)\n y = ConvTranspose(x, w) }}")),
    Case("conv-wruntime-reshape-identity", _m("g (float[1,1,5,5] x, float[2,9] wf) => (float y) <int64[4] ws = {2,1,3,3}> { s = Identity(ws)\n w = Reshape(wf, s)\n y = Conv(x, w) }")),
    Case("conv-wcomputed-static", _m("g (float[1,1,5,5] x, float[2,1,3,3] w0) => (float y) { w = Relu(w0)\n y = Conv(x, w) }")),
    Case("deconv-wtensor-static", _m("g (float[N,1,3,3] x, float[1,2,3,3] w) => (float y) { y = ConvTranspose(x, w) }")),
    Case("deconv-wtensor-dyn-cin", _m("g (float[1,1,3,3] x, float[C,2,3,3] w) => (float y) { y = ConvTranspose(x, w) }"), "convtranspose/dynamic-weights"),
    Case("deconv-wtensor-dyn-maps", _m("g (float[1,1,3,3] x, float[1,M,3,3] w) => (float y) { y = ConvTranspose(x, w) }"), "convtranspose/dynamic-weights"),
    Case("deconv-wtensor-dyn-outpad", _m("g (float[1,1,3,3] x, float[C,2,3,3] w) => (float y) { y = ConvTranspose<strides=[3,2],output_padding=[1,1]>(x, w) }"), "convtranspose/dynamic-weights"),
    Case("deconv-btensor-dyn", _m("g (float[1,1,3,3] x, float[1,2,3,3] w, float[M] b) => (float y) { y = ConvTranspose(x, w, b) }"), "convtranspose/dynamic-weights"),
    # a Reshape's -1 among symbolic dims (TorchScript's x.view(x.shape[0], -1, 4, 4) before an
    # FPN's ConvTranspose): TensorRT computes it where the symbols cancel, ONNX does not
    Case("deconv-reshape-minus1-batch", _m(f"g (float[N,16,32] x) => (float y) <float[32,1,2,2] w = {{{_W128}}}, int64[3] rest = {{-1,4,4}}, int64 zero = {{0}}, int64[1] ax = {{0}}> {{ t = Transpose<perm=[0,2,1]>(x)\n s = Shape(t)\n b = Gather<axis=0>(s, zero)\n b1 = Unsqueeze(b, ax)\n shape = Concat<axis=0>(b1, rest)\n r = Reshape(t, shape)\n y = ConvTranspose<strides=[2,2]>(r, w) }}", 17)),
    Case("deconv-reshape-minus1-symbolic", _m(f"g (float[N,S,32] x) => (float y) <float[32,1,2,2] w = {{{_W128}}}, int64[3] rest = {{-1,4,4}}, int64 zero = {{0}}, int64[1] ax = {{0}}> {{ t = Transpose<perm=[0,2,1]>(x)\n s = Shape(t)\n b = Gather<axis=0>(s, zero)\n b1 = Unsqueeze(b, ax)\n shape = Concat<axis=0>(b1, rest)\n r = Reshape(t, shape)\n y = ConvTranspose<strides=[2,2]>(r, w) }}", 17), "convtranspose/dynamic-channels"),
    # --- ConvTranspose output_shape: padding computed from the input dims at build time
    Case("deconv-outshape-xdynbatch", _m(f"g (float[N,1,3,3] x) => (float y) <float[1,2,3,3] w = {{{_W18}}}> {{ y = ConvTranspose<strides=[3,2],output_shape=[10,8]>(x, w) }}")),
    Case("deconv-outshape-xdynspatial", _m(f"g (float[1,1,H,W] x) => (float y) <float[1,2,3,3] w = {{{_W18}}}> {{ y = ConvTranspose<strides=[3,2],output_shape=[10,8]>(x, w) }}"), "convtranspose/output-shape-dynamic"),
    Case("deconv-outshape-xdynH", _m(f"g (float[1,1,H,3] x) => (float y) <float[1,2,3,3] w = {{{_W18}}}> {{ y = ConvTranspose<strides=[3,2],output_shape=[10,8]>(x, w) }}"), "convtranspose/output-shape-dynamic"),
    Case("deconv-outpad-xdynspatial", _m(f"g (float[1,1,H,W] x) => (float y) <float[1,2,3,3] w = {{{_W18}}}> {{ y = ConvTranspose<strides=[3,2],output_padding=[1,1]>(x, w) }}")),
    Case("deconv-outshape-autopad-xdynspatial", _m(f"g (float[1,1,H,W] x) => (float y) <float[1,2,3,3] w = {{{_W18}}}> {{ y = ConvTranspose<strides=[2,2],output_shape=[6,6],auto_pad=\"SAME_UPPER\">(x, w) }}")),
    Case("deconv-outshape-static-negative", _m(f"g (float[1,1,3,3] x) => (float y) <float[1,2,3,3] w = {{{_W18}}}> {{ y = ConvTranspose<output_shape=[7,7]>(x, w) }}"), "convtranspose/negative-pre-padding"),
    Case("deconv-outshape-static-ok", _m(f"g (float[1,1,3,3] x) => (float y) <float[1,2,3,3] w = {{{_W18}}}> {{ y = ConvTranspose<output_shape=[4,4]>(x, w) }}")),
    # (a full N,C,H,W output_shape: the parser takes it, onnxruntime refuses it at load, so it is
    # an invalid graph: tests/reports/test_validity.py)
    Case("deconv1d-outshape", _m("g (float[1,1,3] x) => (float y) <float[1,2,3] w = {1,1,1,1,1,1}> { y = ConvTranspose<strides=[2],output_shape=[7]>(x, w) }"), "convtranspose/output-shape-1d"),
    Case("deconv1d-outpad", _m("g (float[1,1,3] x) => (float y) <float[1,2,3] w = {1,1,1,1,1,1}> { y = ConvTranspose<strides=[2],output_padding=[1]>(x, w) }")),
    # --- NonMaxSuppression: INMSLayer thresholds are FLOAT (DOUBLE is cast down)
    Case("nms-fp16-thresholds", _m("g (float16[1,6,4] b, float16[1,1,6] s, int64[1] m, float16[1] iou, float16[1] st) => (int64[3,3] y) { y = NonMaxSuppression(b, s, m, iou, st) }"), "unsupported-dtype"),
    Case("nms-fp16-boxes-fp32-thresholds", _m("g (float16[1,6,4] b, float16[1,1,6] s, int64[1] m, float[1] iou, float[1] st) => (int64[3,3] y) { y = NonMaxSuppression(b, s, m, iou, st) }")),
    Case("nms-fp16-score-threshold", _m("g (float[1,6,4] b, float[1,1,6] s, int64[1] m, float[1] iou, float16[1] st) => (int64[3,3] y) { y = NonMaxSuppression(b, s, m, iou, st) }"), "unsupported-dtype"),
    Case("nms-bf16-iou-threshold", _m("g (float[1,6,4] b, float[1,1,6] s, int64[1] m, bfloat16[1] iou) => (int64[3,3] y) { y = NonMaxSuppression(b, s, m, iou) }"), "unsupported-dtype"),
    Case("nms-fp16-iou-computed", _m("g (float[1,6,4] b, float[1,1,6] s, int64[1] m, float[1] i0) => (int64[3,3] y) { iou = Cast<to=10>(i0)\n y = NonMaxSuppression(b, s, m, iou) }"), "unsupported-dtype"),
    Case("nms-fp16-no-thresholds", _m("g (float16[1,6,4] b, float16[1,1,6] s, int64[1] m) => (int64[3,3] y) { y = NonMaxSuppression(b, s, m) }")),
    Case("nms-double", _m("g (double[1,6,4] b, double[1,1,6] s, int64[1] m, double[1] iou) => (int64[3,3] y) { y = NonMaxSuppression(b, s, m, iou) }")),
    Case("nms-bf16-boxes", _m("g (bfloat16[1,6,4] b, bfloat16[1,1,6] s, int64[1] m, float[1] iou) => (int64[3,3] y) { y = NonMaxSuppression(b, s, m, iou) }")),
    # --- RNN/GRU/LSTM: sequence_lens masks with a FLOAT zero
    Case("lstm-fp16-seqlens", _m("g (float16[1,2,4] x, float16[1,12,4] w, float16[1,12,3] r, int32[2] sl) => (float16[1,2,3] h) { y, h = LSTM<hidden_size=3>(x, w, r, , sl) }"), "lstm/sequence-lens-dtype"),
    Case("lstm-fp16-seqlens-init", _m("g (float16[1,2,4] x, float16[1,12,4] w, float16[1,12,3] r) => (float16[1,2,3] h) <int32[2] sl = {1,2}> { y, h = LSTM<hidden_size=3>(x, w, r, , sl) }"), "lstm/sequence-lens-dtype"),
    Case("lstm-fp16-peepholes", _m("g (float16[1,2,4] x, float16[1,12,4] w, float16[1,12,3] r, float16[1,2,3] h0, float16[1,2,3] c0, float16[1,9] p) => (float16[1,2,3] h) { y, h = LSTM<hidden_size=3>(x, w, r, , , h0, c0, p) }")),
    Case("lstm-fp32-seqlens", _m("g (float[1,2,4] x, float[1,12,4] w, float[1,12,3] r, int32[2] sl) => (float[1,2,3] h) { y, h = LSTM<hidden_size=3>(x, w, r, , sl) }")),
    Case("lstm-bf16-seqlens", _m("g (bfloat16[1,2,4] x, bfloat16[1,12,4] w, bfloat16[1,12,3] r, int32[2] sl) => (bfloat16[1,2,3] h) { y, h = LSTM<hidden_size=3>(x, w, r, , sl) }"), "lstm/sequence-lens-dtype"),
    Case("lstm-bf16", _m("g (bfloat16[1,2,4] x, bfloat16[1,12,4] w, bfloat16[1,12,3] r) => (bfloat16[1,2,3] h) { y, h = LSTM<hidden_size=3>(x, w, r) }")),
    Case("gru-fp16-seqlens", _m("g (float16[1,2,4] x, float16[1,9,4] w, float16[1,9,3] r, int32[2] sl) => (float16[1,2,3] h) { y, h = GRU<hidden_size=3>(x, w, r, , sl) }"), "gru/sequence-lens-dtype"),
    Case("rnn-fp16-seqlens", _m("g (float16[1,2,4] x, float16[1,3,4] w, float16[1,3,3] r, int32[2] sl) => (float16[1,2,3] h) { y, h = RNN<hidden_size=3>(x, w, r, , sl) }"), "rnn/sequence-lens-dtype"),
    Case("rnn-fp16", _m("g (float16[1,2,4] x, float16[1,3,4] w, float16[1,3,3] r) => (float16[1,2,3] h) { y, h = RNN<hidden_size=3>(x, w, r) }")),
    # --- MatMul 1-D x N-D: the squeeze of axis 0 fails only when the product is static
    Case("matmul-vec-batched-static", _m("g (float[4] a, float[3,4,5] b) => (float y) { y = MatMul(a, b) }"), "matmul/vector-times-batched"),
    Case("matmul-vec-batched-dynbatch", _m("g (float[4] a, float[N,4,5] b) => (float y) { y = MatMul(a, b) }")),
    Case("matmul-vec-batched-dyncols", _m("g (float[4] a, float[3,4,M] b) => (float y) { y = MatMul(a, b) }")),
    Case("matmul-vec-batched-dynk", _m("g (float[4] a, float[3,K,5] b) => (float y) { y = MatMul(a, b) }"), "matmul/vector-times-batched"),
    Case("matmul-vec-4d-leading-one", _m("g (float[4] a, float[1,3,4,5] b) => (float y) { y = MatMul(a, b) }")),
    Case("matmul-vec-4d-inner-dyn", _m("g (float[4] a, float[3,N,4,5] b) => (float y) { y = MatMul(a, b) }")),
    Case("matmul-vec-4d-static", _m("g (float[4] a, float[3,1,4,5] b) => (float y) { y = MatMul(a, b) }"), "matmul/vector-times-batched"),
    # --- Equal: a UINT8 initializer is INT32 weights, a UINT8 input stays UINT8
    Case("equal-uint8-input-vs-init", _m("g (uint8[3] x) => (bool y) <uint8[3] z = {1,2,3}> { y = Equal(x, z) }"), "equal/uint8-weights-vs-tensor"),
    Case("equal-uint8-init-vs-input", _m("g (uint8[2,3] x) => (bool y) <uint8[3] z = {4,5,6}> { y = Equal(z, x) }"), "equal/uint8-weights-vs-tensor"),
    Case("equal-uint8-init-vs-init", _m("g (uint8[3] x0) => (bool y) <uint8[3] z = {1,2,3}, uint8[3] w = {3,2,1}> { y = Equal(z, w) }")),
    Case("equal-uint8-inputs", _m("g (uint8[3] x, uint8[3] z) => (bool y) { y = Equal(x, z) }")),
    Case("equal-int8-input-vs-init", _m("g (int8[3] x) => (bool y) <int8[3] z = {1,2,3}> { y = Equal(x, z) }")),
    # --- Quantize/DequantizeLinear: per-axis and block scales need a static axis dim
    Case("q-int4-peraxis-dynaxis", _m("g (float[B,6] x, float[5] s, int4[5] z) => (int4 y) { y = QuantizeLinear<axis=0>(x, s, z) }"), "quantizelinear/dynamic-axis-dim"),
    Case("q-fp4-peraxis-dynaxis", _m("g (float[B,6] x, float[5] s, float4e2m1[5] z) => (float4e2m1 y) { y = QuantizeLinear<axis=0>(x, s, z) }"), "quantizelinear/dynamic-axis-dim"),
    Case("q-int8-peraxis-dynaxis-neg", _m("g (float[B,6] x, float[5] s, int8[5] z) => (int8 y) { y = QuantizeLinear<axis=-2>(x, s, z) }"), "quantizelinear/dynamic-axis-dim"),
    Case("q-fp8-peraxis-unknown", _m("g (float[?,6] x, float[5] s, float8e4m3fn[5] z) => (float8e4m3fn y) { y = QuantizeLinear<axis=0>(x, s, z) }"), "quantizelinear/dynamic-axis-dim"),
    Case("q-int8-peraxis-init-dynaxis", _m("g (float[B,6] x) => (int8 y) <float[5] s = {1.0,1.0,1.0,1.0,1.0}, int8[5] z = {0,0,0,0,0}> { y = QuantizeLinear<axis=0>(x, s, z) }"), "quantizelinear/dynamic-axis-dim"),
    Case("q-int4-peraxis-static-axis", _m("g (float[B,6] x, float[6] s, int4[6] z) => (int4 y) { y = QuantizeLinear<axis=1>(x, s, z) }")),
    Case("q-int8-one-element-scale", _m("g (float[B,6] x, float[1] s, int8[1] z) => (int8 y) { y = QuantizeLinear<axis=0>(x, s, z) }")),
    Case("q-int4-pertensor-dyn", _m("g (float[B,6] x, float s, int4 z) => (int4 y) { y = QuantizeLinear(x, s, z) }")),
    Case("q-int4-block-dynaxis", _m("g (float[B,6] x, float[C,6] s, int4[C,6] z) => (int4 y) { y = QuantizeLinear<axis=0, block_size=2>(x, s, z) }"), "quantizelinear/dynamic-axis-dim"),
    Case("q-int4-block-static-axis", _m("g (float[B,6] x, float[B,3] s, int4[B,3] z) => (int4 y) { y = QuantizeLinear<axis=1, block_size=2>(x, s, z) }")),
    Case("dq-int4-peraxis-dynaxis", _m("g (int4[B,6] x, float[5] s) => (float y) { y = DequantizeLinear<axis=0>(x, s) }"), "dequantizelinear/dynamic-axis-dim"),
    Case("dq-int8-peraxis-dynaxis", _m("g (int8[B,6] x, float[5] s) => (float y) { y = DequantizeLinear<axis=0>(x, s) }"), "dequantizelinear/dynamic-axis-dim"),
    Case("dq-int4-peraxis-static-axis", _m("g (int4[B,6] x, float[6] s) => (float y) { y = DequantizeLinear<axis=1>(x, s) }")),
    Case("dq-int4-block-static-axis", _m("g (int4[B,6] x, float[B,3] s) => (float y) { y = DequantizeLinear<axis=1, block_size=2>(x, s) }")),
    # --- Attention: K and V compared dim by dim (a dynamic dim is -1)
    Case("attn-kv-head-differs-dynbatch", _m("g (float[B,2,4,8] q, float[B,2,6,8] k, float[B,2,6,10] v) => (float y) { y = Attention(q, k, v) }", 23), "attention/kv-shape"),
    Case("attn-kv-seq-differs-dynbatch", _m("g (float[B,2,4,8] q, float[B,2,6,8] k, float[B,2,5,8] v) => (float y) { y = Attention(q, k, v) }", 23), "attention/kv-shape"),
    Case("attn-kv-dyn-vs-static", _m("g (float[2,2,4,8] q, float[2,2,6,8] k, float[B,2,6,8] v) => (float y) { y = Attention(q, k, v) }", 23), "attention/kv-shape"),
    Case("attn-kv-head-dyn-vs-static", _m("g (float[B,2,4,8] q, float[B,2,6,8] k, float[B,2,6,H] v) => (float y) { y = Attention(q, k, v) }", 23), "attention/kv-shape"),
    Case("attn-kv-same-dynbatch", _m("g (float[B,2,4,8] q, float[B,2,6,8] k, float[B,2,6,8] v) => (float y) { y = Attention(q, k, v) }", 23)),
    Case("attn-kv-two-symbols", _m("g (float[B,2,4,8] q, float[B,2,6,8] k, float[M,2,6,8] v) => (float y) { y = Attention(q, k, v) }", 23)),
    Case("attn3d-kv-hidden-differs-dynbatch", _m("g (float[B,5,24] q, float[B,7,24] k, float[B,7,30] v) => (float y) { y = Attention<q_num_heads=3, kv_num_heads=3>(q, k, v) }", 23), "attention/kv-shape"),
    Case("attn3d-kv-same-dynseq", _m("g (float[2,S,24] q, float[2,T,24] k, float[2,T,24] v) => (float y) { y = Attention<q_num_heads=3, kv_num_heads=3>(q, k, v) }", 23)),
    # --- RotaryEmbedding: IRotaryEmbeddingLayer compares batch/sequence dims at build time
    Case("rope-dynbatch-const-positions", _m("g (float[B,2,3,8] x, float[8,4] c, float[8,4] s) => (float y) <int64[2,3] p = {0,1,2,0,1,2}> { y = RotaryEmbedding(x, c, s, p) }", 23), "rotaryembedding/rope-dims"),
    Case("rope-dynbatch-static-positions", _m("g (float[B,2,3,8] x, float[8,4] c, float[8,4] s, int64[1,3] p) => (float y) { y = RotaryEmbedding(x, c, s, p) }", 23), "rotaryembedding/rope-dims"),
    Case("rope-static-dyn-positions", _m("g (float[2,2,3,8] x, float[8,4] c, float[8,4] s, int64[B,3] p) => (float y) { y = RotaryEmbedding(x, c, s, p) }", 23), "rotaryembedding/rope-dims"),
    Case("rope-dynseq-static-positions", _m("g (float[2,2,S,8] x, float[8,4] c, float[8,4] s, int64[2,3] p) => (float y) { y = RotaryEmbedding(x, c, s, p) }", 23), "rotaryembedding/rope-dims"),
    Case("rope-dynbatch-dyn-positions", _m("g (float[B,2,S,8] x, float[8,4] c, float[8,4] s, int64[B,S] p) => (float y) { y = RotaryEmbedding(x, c, s, p) }", 23)),
    Case("rope-dynbatch-other-symbol", _m("g (float[B,2,3,8] x, float[8,4] c, float[8,4] s, int64[M,3] p) => (float y) { y = RotaryEmbedding(x, c, s, p) }", 23)),
    # --- NonMaxSuppression boxes whose last dim is a network input's, whatever its name
    Case("nms-boxes-input-dim-named-unk", _m("g (float[1,5,unk__0] b, float[1,1,5] s) => (int64 sel) <int64[1] mo = {3}> { bx = Identity(b) sel = NonMaxSuppression(bx, s, mo) }", 18), "nonmaxsuppression/boxes-last-dim"),
    Case("nms-boxes-input-dim-named-d", _m("g (float[1,5,D] b, float[1,1,5] s) => (int64 sel) <int64[1] mo = {3}> { bx = Identity(b) sel = NonMaxSuppression(bx, s, mo) }", 18), "nonmaxsuppression/boxes-last-dim"),
    # --- an optional input left out with an empty name: several importers refuse it
    Case("empty-gemm-c", _m('g (float[2,3] a, float[3,4] b) => (float[2,4] y) { y = Gemm(a, b, "") }', 17), "gemm/empty-input"),
    Case("empty-conv-bias", _m('g (float[1,2,4,4] x) => (float y) <float[3,2,1,1] w = {1,1,1,1,1,1}> { y = Conv(x, w, "") }', 17), "conv/empty-input"),
    Case("empty-split-sizes", _m('g (float[2,4] x) => (float y1, float y2) { y1, y2 = Split<axis=1>(x, "") }', 13), "split/empty-input"),
    Case("empty-squeeze-axes", _m('g (float[1,3] x) => (float y) { y = Squeeze(x, "") }', 13), "squeeze/empty-input"),
    Case("empty-dq-zero-point", _m('g (int8[2,3] q) => (float y) <float s = {0.5}> { y = DequantizeLinear(q, s, "") }', 13), "dequantizelinear/empty-input"),
    Case("empty-slice-steps", _m('g (float[2,3,4] x) => (float y) <int64[1] st = {0}, int64[1] en = {1}, int64[1] ax = {1}> { y = Slice(x, st, en, ax, "") }', 13), "slice/empty-input"),
    Case("empty-slice-axes-before-steps", _m('g (float[2,3,4] x) => (float y) <int64[1] st = {0}, int64[1] en = {1}, int64[1] sp = {1}> { y = Slice(x, st, en, "", sp) }', 13), "slice/empty-input"),
    Case("empty-concat-input", _m('g (float[2,3] a, float[2,3] b) => (float y) { y = Concat<axis=0>(a, b, "") }', 13), "concat/empty-input"),
    Case("empty-sum-input", _m('g (float[2,3] a, float[2,3] b) => (float y) { y = Sum(a, b, "") }', 13), "sum/empty-input"),
    Case("empty-trilu-k", _m('g (float[3,3] x) => (float y) { y = Trilu(x, "") }', 14), "trilu/empty-input"),
    Case("empty-dropout-training-mode", _m('g (float[2,3] x) => (float y) <float r = {0.5}> { y = Dropout(x, r, "") }', 13), "dropout/empty-input"),
    # ... and the importers that take it
    Case("empty-layernorm-bias", _m('g (float[2,3] x) => (float y) <float[3] sc = {1,1,1}> { y = LayerNormalization(x, sc, "") }', 17)),
    Case("empty-convtranspose-bias", _m('g (float[1,2,4,4] x) => (float y) <float[2,3,1,1] w = {1,1,1,1,1,1}> { y = ConvTranspose(x, w, "") }', 17)),
    Case("empty-reducesum-axes", _m('g (float[2,3] x) => (float y) { y = ReduceSum(x, "") }', 13)),
    Case("empty-resize-roi", _m('g (float[1,1,2,2] x) => (float y) <float[4] sc = {1,1,2,2}> { y = Resize(x, "", sc) }', 13)),
    Case("empty-dropout-ratio", _m('g (float[2,3] x) => (float y) { y = Dropout(x, "") }', 13)),
    Case("empty-clip-bounds", _m('g (float[2,3] x) => (float y) { y = Clip(x, "", "") }', 13)),
    # x computed from an input of dynamic batch (torch dynamo opset-23 exports: a Transpose of
    # the hidden states): its batch is -1 at build time too
    Case("rope-computed-dynbatch-cache1", _m("g (float[B,3,2,8] h, float[1,3,4] c, float[1,3,4] s) => (float y) { x = Transpose<perm=[0,2,1,3]>(h) y = RotaryEmbedding(x, c, s) }", 23), "rotaryembedding/rope-dims"),
    Case("rope-computed-dynbatch-cacheB", _m("g (float[B,3,2,8] h, float[B,3,4] c, float[B,3,4] s) => (float y) { x = Transpose<perm=[0,2,1,3]>(h) y = RotaryEmbedding(x, c, s) }", 23)),
    Case("rope-dyn-head", _m("g (float[2,2,3,D] x, float[8,2] c, float[8,2] s, int64[2,3] p) => (float y) { y = RotaryEmbedding<rotary_embedding_dim=4>(x, c, s, p) }", 23), "rotaryembedding/dynamic-head-size"),
    Case("rope3d-dyn-hidden", _m("g (float[2,3,H] x, float[8,4] c, float[8,4] s, int64[2,3] p) => (float y) { y = RotaryEmbedding<num_heads=2>(x, c, s, p) }", 23), "rotaryembedding/dynamic-head-size"),
    Case("rope3d-dynbatch-const-positions", _m("g (float[B,3,16] x, float[8,4] c, float[8,4] s) => (float y) <int64[2,3] p = {0,1,2,0,1,2}> { y = RotaryEmbedding<num_heads=2>(x, c, s, p) }", 23), "rotaryembedding/rope-dims"),
    Case("rope-nopos-dynbatch-cache", _m("g (float[B,2,3,8] x, float[B,3,4] c, float[B,3,4] s) => (float y) { y = RotaryEmbedding(x, c, s) }", 23)),
    Case("rope-nopos-dynbatch-static-cache", _m("g (float[B,2,3,8] x, float[2,3,4] c, float[2,3,4] s) => (float y) { y = RotaryEmbedding(x, c, s) }", 23), "rotaryembedding/rope-dims"),
    Case("q-int8-scale-dyn-length", _m("g (float[2,3] x, float[S] s) => (int8 y) { y = QuantizeLinear<axis=1>(x, s) }"), "quantizelinear/dynamic-scale-shape"),
    Case("q-int8-zero-point-dyn-length", _m("g (float[2,3] x, float[3] s, int8[Z] z) => (int8 y) { y = QuantizeLinear<axis=1>(x, s, z) }"), "quantizelinear/dynamic-scale-shape"),
    Case("dq-int8-zero-point-dyn-length", _m("g (int8[4] x, float s, int8[Z] z) => (float y) { y = DequantizeLinear(x, s, z) }"), "dequantizelinear/dynamic-scale-shape"),
    Case("dq-int8-scalar-scale-dyn-data", _m("g (int8[X] x, float s) => (float y) { y = DequantizeLinear(x, s) }")),
    Case("q-int8-block-scale-dyn-block-axis", _m("g (float[2,4] x, float[2,S] s) => (int8 y) { y = QuantizeLinear<axis=1, block_size=2>(x, s) }"), "quantizelinear/dynamic-scale-shape"),
    Case("q-int4-block-scale-dyn-other-axis", _m("g (float[B,4] x, float[B,2] s) => (int4 y) { y = QuantizeLinear<axis=1, block_size=2, output_dtype=22>(x, s) }")),
    # --- shape-tensor inputs: their length (output rank / axis count) is a build-time value
    Case("reshape-shape-dyn-length", _m("g (float[2,3,4] x, int64[L] s) => (float y) { y = Reshape(x, s) }"), "reshape/dynamic-length"),
    Case("reshape-shape-input-static-length", _m("g (float[A,B,C] x, int64[2] s) => (float y) { y = Reshape(x, s) }")),
    Case("expand-shape-dyn-length", _m("g (float[3,1] x, int64[L] s) => (float y) { y = Expand(x, s) }"), "expand/dynamic-length"),
    Case("constantofshape-dyn-length", _m("g (int64[L] s) => (float y) { y = ConstantOfShape(s) }"), "constantofshape/dynamic-length"),
    Case("constantofshape-static-length", _m("g (int64[2] s) => (float y) { y = ConstantOfShape(s) }")),
    Case("slice-starts-dyn-length", _m("g (float[4,5] x, int64[L] b, int64[L] e) => (float y) { y = Slice(x, b, e) }"), "slice/dynamic-length"),
    Case("slice-axes-dyn-length", _m("g (float[4,5] x, int64[1] b, int64[1] e, int64[L] a) => (float y) { y = Slice(x, b, e, a) }"), "slice/dynamic-length"),
    Case("slice-inputs-static-length", _m("g (float[4,N] x, int64[2] b, int64[2] e) => (float y) { y = Slice(x, b, e) }")),
    Case("pad-pads-dyn-length", _m("g (float[4,5] x, int64[L] p) => (float y) { y = Pad(x, p) }"), "pad/dynamic-length"),
    Case("pad-pads-static-length", _m("g (float[N,5] x, int64[4] p) => (float y) { y = Pad(x, p) }")),
    Case("tile-repeats-dyn-length", _m("g (float[4,5] x, int64[L] r) => (float y) { y = Tile(x, r) }")),
    Case("resize-sizes-dyn-length", _m("g (float[1,1,4,4] x, int64[L] sz) => (float y) { y = Resize(x, , , sz) }"), "resize/dynamic-length"),
    Case("resize-sizes-static-length", _m("g (float[N,1,4,4] x, int64[4] sz) => (float y) { y = Resize(x, , , sz) }")),
    Case("gathernd-dyn-index-depth", _m("g (float[A,B] x, int64[C,D] i) => (float y) { y = GatherND(x, i) }"), "gathernd/dynamic-index-depth"),
    Case("gathernd-static-index-depth", _m("g (float[A,B] x, int64[C,2] i) => (float y) { y = GatherND(x, i) }")),
    Case("dq-fp8-zero-point-dyn-length", _m("g (float8e4m3fn[X] x, float s, float8e4m3fn[Z] z) => (float y) { y = DequantizeLinear(x, s, z) }")),
    Case("reshape-shape-computed", _m("g (float[N,3,4] x) => (float y) { s0 = Shape<start=0, end=1>(x)\n m = Constant<value = int64[1] {-1}>()\n s = Concat<axis=0>(s0, m)\n y = Reshape(x, s) }")),
    # --- TensorScatter: the KV cache's sequence dim (capacity) is a build-time value
    Case("tensorscatter-dyn-cache-length", _m('g (float[2,2,S,4] c, float[2,2,1,4] u, int64[2] w) => (float y) { y = TensorScatter<mode="linear">(c, u, w) }', 24), "tensorscatter/dynamic-cache-length"),
    Case("tensorscatter-dyn-batch", _m('g (float[B,2,8,4] c, float[B,2,1,4] u, int64[B] w) => (float y) { y = TensorScatter<mode="linear">(c, u, w) }', 24)),
    Case("tensorscatter-dyn-update-length", _m('g (float[2,2,8,4] c, float[2,2,T,4] u, int64[2] w) => (float y) { y = TensorScatter<mode="linear">(c, u, w) }', 24)),
    # --- Resize: constant sizes for a subset of axes, other axes dynamic
    Case("resize-axes-const-sizes-dynbatch", _m("g (float[N,1,2,2] x) => (float y) <int64[2] sz = {7,8}> { y = Resize<axes=[2,3]>(x, , , sz) }"), "resize/axes-sizes-dynamic-dim"),
    Case("resize-axes-const-sizes-dynchannels", _m("g (float[1,C,2,2] x) => (float y) <int64[2] sz = {5,6}> { y = Resize<axes=[-2,-1]>(x, , , sz) }"), "resize/axes-sizes-dynamic-dim"),
    Case("resize-axes-const-sizes-dyn-resized-axis", _m("g (float[1,1,H,2] x) => (float y) <int64[2] sz = {7,8}> { y = Resize<axes=[2,3]>(x, , , sz) }")),
    Case("resize-axes-input-sizes-dynbatch", _m("g (float[N,1,2,2] x, int64[2] sz) => (float y) { y = Resize<axes=[2,3]>(x, , , sz) }")),
    Case("resize-axes-const-scales-dynbatch", _m("g (float[N,1,2,2] x) => (float y) <float[2] sc = {2.0,2.0}> { y = Resize<axes=[2,3]>(x, , sc) }")),
    Case("resize-all-const-sizes-dynbatch", _m("g (float[N,1,2,2] x) => (float y) <int64[4] sz = {1,1,7,8}> { y = Resize(x, , , sz) }")),
    # --- third check (sequence/last dims symbolic): heads, NMS boxes, RoPE caches
    Case("attn-qheads-dyn-kv2", _m("g (float[1,H,4,8] q, float[1,2,6,8] k, float[1,2,6,8] v) => (float y) { y = Attention(q, k, v) }", 23), "attention/heads-divisible"),
    Case("attn-qheads-dyn-kv1", _m("g (float[1,H,4,8] q, float[1,1,6,8] k, float[1,1,6,8] v) => (float y) { y = Attention(q, k, v) }", 23)),
    Case("attn-qheads-dyn-kvdyn", _m("g (float[1,H,4,8] q, float[1,G,6,8] k, float[1,G,6,8] v) => (float y) { y = Attention(q, k, v) }", 23)),
    Case("attn-q4-kv3", _m("g (float[1,4,4,8] q, float[1,3,6,8] k, float[1,3,6,8] v) => (float y) { y = Attention(q, k, v) }", 23), "attention/heads-divisible"),
    Case("attn-q4-kvdyn", _m("g (float[1,4,4,8] q, float[1,G,6,8] k, float[1,G,6,8] v) => (float y) { y = Attention(q, k, v) }", 23)),
    Case("nms-boxes-dyn-last-dim", _m("g (float[1,6,L] b, float[1,1,6] s) => (int64[3,3] y) { y = NonMaxSuppression(b, s) }"), "nonmaxsuppression/boxes-last-dim"),
    Case("nms-boxes-last-dim-5", _m("g (float[1,6,5] b, float[1,1,6] s) => (int64[3,3] y) { y = NonMaxSuppression(b, s) }"), "nonmaxsuppression/boxes-last-dim"),
    # a last dim ONNX's inference loses (unk__) and TensorRT computes: torchvision's RetinaNet
    Case("nms-boxes-last-dim-lost-by-inference", _m("g (float[1,24] x, float[1,1,6] s) => (int64[3,3] y) <int64[3] a = {1,6,4}, int64[3] c = {1,6,4}> { t = Max(a, c)\n bx = Reshape(x, t)\n y = NonMaxSuppression(bx, s) }")),
    Case("nms-boxes-dyn-count", _m("g (float[1,B,4] b, float[1,1,B] s) => (int64[3,3] y) { y = NonMaxSuppression(b, s) }")),
    Case("rope-nopos-cache-dyn-seq", _m("g (float[2,2,3,8] x, float[2,S,4] c, float[2,S,4] s) => (float y) { y = RotaryEmbedding(x, c, s) }", 23), "rotaryembedding/rope-dims"),
    # --- multidirectional broadcasting: known dims that differ and are not 1 (hold-out PatchTST export)
    Case("add-broadcast-mismatch", _m("g (float[N,4,3] x) => (float y) <float[4] w = {1,2,3,4}> { y = Add(x, w) }"), "add/broadcast-mismatch"),
    Case("add-broadcast-ok", _m("g (float[N,4,3] x) => (float y) <float[4,1] w = {1,2,3,4}> { y = Add(x, w) }")),
    Case("mul-broadcast-mismatch-inputs", _m("g (float[2,3] x, float[3,2] z) => (float y) { y = Mul(x, z) }"), "mul/broadcast-mismatch"),
    Case("mul-broadcast-symbolic", _m("g (float[2,M] x, float[3] z) => (float y) { y = Mul(x, z) }")),
    Case("where-broadcast-mismatch", _m("g (bool[2,3] c, float[3,2] x, float[3] z) => (float y) { y = Where(c, x, z) }"), "where/broadcast-mismatch"),
    Case("where-broadcast-ok", _m("g (bool[2,1] c, float[1,3] x, float[3] z) => (float y) { y = Where(c, x, z) }")),
    Case("greater-broadcast-mismatch", _m("g (float[5,2] x, float[5] z) => (bool y) { y = Greater(x, z) }"), "greater/broadcast-mismatch"),
    # --- hold-out round 4 (tf2onnx, batch-major recurrences)
    # tf.image.resize(method="nearest") with half_pixel_centers: tf_half_pixel_for_nn with nearest_mode floor; the parser takes round_prefer_floor only there
    Case("resize-tf-half-pixel-floor", _m('g (float[1,1,4,4] x) => (float[1,1,8,8] y) <float[4] s = {1,1,2,2}> { y = Resize<mode="nearest", coordinate_transformation_mode="tf_half_pixel_for_nn", nearest_mode="floor">(x, , s) }', 13), "resize/tf-half-pixel-nearest-mode"),
    Case("resize-tf-half-pixel-ceil", _m('g (float[1,1,4,4] x) => (float[1,1,8,8] y) <float[4] s = {1,1,2,2}> { y = Resize<mode="nearest", coordinate_transformation_mode="tf_half_pixel_for_nn", nearest_mode="ceil">(x, , s) }', 13), "resize/tf-half-pixel-nearest-mode"),
    Case("resize-tf-half-pixel-round-prefer-floor", _m('g (float[1,1,4,4] x) => (float[1,1,8,8] y) <float[4] s = {1,1,2,2}> { y = Resize<mode="nearest", coordinate_transformation_mode="tf_half_pixel_for_nn", nearest_mode="round_prefer_floor">(x, , s) }', 13)),
    Case("resize-half-pixel-floor", _m('g (float[1,1,4,4] x) => (float[1,1,8,8] y) <float[4] s = {1,1,2,2}> { y = Resize<mode="nearest", nearest_mode="floor">(x, , s) }', 13)),
    # layout=1 with sequence_lens: the parser masks as if X were sequence-major (batch 2 against 5 steps does not broadcast)
    Case("lstm-layout1-seqlens-batch-ne-steps", _m(f"g (float[2,5,3] x, int32[2] sl) => (float y) <float[1,16,3] w = {{{_W48}}}, float[1,16,4] r = {{{_W64}}}> {{ y = LSTM<hidden_size=4, layout=1>(x, w, r, , sl) }}", 14), "lstm/layout-sequence-lens"),
    Case("lstm-layout1-seqlens-batch-eq-steps", _m(f"g (float[3,3,3] x, int32[3] sl) => (float y) <float[1,16,3] w = {{{_W48}}}, float[1,16,4] r = {{{_W64}}}> {{ y = LSTM<hidden_size=4, layout=1>(x, w, r, , sl) }}", 14)),
    Case("lstm-layout0-seqlens", _m(f"g (float[5,2,3] x, int32[2] sl) => (float y) <float[1,16,3] w = {{{_W48}}}, float[1,16,4] r = {{{_W64}}}> {{ y = LSTM<hidden_size=4>(x, w, r, , sl) }}", 14)),
    # MatMul operands whose dims are known only through data propagation (TorchScript's view(B, -1, heads, d)) and do not multiply (HF CANINE)
    Case("matmul-batch-dims-mismatch-propagated", _m("g (float[B,S,64] x) => (float y) <int64[1] i0 = {0}, int64[3] rest = {-1,4,16}, int64[3] rest8 = {-1,4,8}> { sh = Shape(x)\n b = Gather<axis=0>(sh, i0)\n t = Concat<axis=0>(b, rest)\n t8 = Concat<axis=0>(b, rest8)\n q4 = Reshape(x, t)\n q = Transpose<perm=[0,2,1,3]>(q4)\n k = Transpose<perm=[0,3,1,2]>(q4)\n y = MatMul(q, k) }", 17), "matmul/broadcast-mismatch"),
    Case("matmul-contracted-dims-mismatch-propagated", _m("g (float[B,S,64] x) => (float y) <int64[1] i0 = {0}, int64[3] rest = {-1,4,16}, int64[3] rest8 = {-1,4,8}> { sh = Shape(x)\n b = Gather<axis=0>(sh, i0)\n t = Concat<axis=0>(b, rest)\n t8 = Concat<axis=0>(b, rest8)\n q4 = Reshape(x, t)\n q = Transpose<perm=[0,2,1,3]>(q4)\n k8 = Reshape(x, t8)\n k = Transpose<perm=[0,2,3,1]>(k8)\n y = MatMul(q, k) }", 17), "matmul/shapes-mismatch"),
    Case("matmul-dims-fit-propagated", _m("g (float[B,S,64] x) => (float y) <int64[1] i0 = {0}, int64[3] rest = {-1,4,16}, int64[3] rest8 = {-1,4,8}> { sh = Shape(x)\n b = Gather<axis=0>(sh, i0)\n t = Concat<axis=0>(b, rest)\n t8 = Concat<axis=0>(b, rest8)\n q4 = Reshape(x, t)\n q = Transpose<perm=[0,2,1,3]>(q4)\n k = Transpose<perm=[0,2,3,1]>(q4)\n y = MatMul(q, k) }", 17)),
    # TensorRT's API limits: a window's volume below 100,000 (2 spatial dims), a Concat's inputs below 10,000
    Case("maxpool-window-316x316", _m("g (float[1,1,316,316] x) => (float y) { y = MaxPool<kernel_shape=[316,316]>(x) }", 17)),
    Case("maxpool-window-317x317", _m("g (float[1,1,317,317] x) => (float y) { y = MaxPool<kernel_shape=[317,317]>(x) }", 17), "maxpool/kernel-volume"),
    Case("averagepool-window-100000x1", _m("g (float[1,1,100000,1] x) => (float y) { y = AveragePool<kernel_shape=[100000,1]>(x) }", 17), "averagepool/kernel-volume"),
    Case("maxpool-window-47x47x47", _m("g (float[1,1,47,47,47] x) => (float y) { y = MaxPool<kernel_shape=[47,47,47]>(x) }", 17)),
    Case("conv-window-317x317", _m("g (float[1,1,317,317] x, float[1,1,317,317] w) => (float y) { y = Conv(x, w) }", 17), "conv/kernel-volume"),
    Case("concat-9999-inputs", _m(f"g (float[1] x) => (float y) {{ y = Concat<axis=0>({', '.join(['x'] * 9999)}) }}", 17)),
    Case("concat-10000-inputs", _m(f"g (float[1] x) => (float y) {{ y = Concat<axis=0>({', '.join(['x'] * 10000)}) }}", 17), "concat/input-count"),
    # recurrent weights that do not fit hidden_size (W has 7 rows where 4 gates × 5 need 20)
    Case("lstm-w-rows-mismatch", _m(f"g (float[2,1,3] x) => (float y) <float[1,7,3] w = {{{','.join(['0.1'] * 21)}}}, float[1,20,5] r = {{{','.join(['0.1'] * 100)}}}> {{ y = LSTM<hidden_size=5>(x, w, r) }}", 14), "lstm/shapes-mismatch"),
    Case("lstm-w-rows-fit", _m(f"g (float[2,1,3] x) => (float y) <float[1,20,3] w = {{{','.join(['0.1'] * 60)}}}, float[1,20,5] r = {{{','.join(['0.1'] * 100)}}}> {{ y = LSTM<hidden_size=5>(x, w, r) }}", 14)),
    # Reshape's 0: a copy of the data's dim, or with allowzero a 0 (then the counts differ)
    Case("reshape-allowzero-count-mismatch", _m("g (float[2,4] x) => (float y) <int64[2] s = {0,8}> { y = Reshape<allowzero=1>(x, s) }", 14), "reshape/shapes-mismatch"),
    Case("reshape-zero-copies-the-dim", _m("g (float[2,4] x) => (float y) <int64[2] s = {0,4}> { y = Reshape(x, s) }", 14)),
    # LRN's window: odd, 1 to 15 (ILRNLayer::setWindowSize)
    Case("lrn-size-5", _m("g (float[1,20,2,2] x) => (float y) { y = LRN<size=5>(x) }", 17)),
    Case("lrn-size-15", _m("g (float[1,20,2,2] x) => (float y) { y = LRN<size=15>(x) }", 17)),
    Case("lrn-size-4", _m("g (float[1,20,2,2] x) => (float y) { y = LRN<size=4>(x) }", 17), "lrn/size"),
    Case("lrn-size-17", _m("g (float[1,20,2,2] x) => (float y) { y = LRN<size=17>(x) }", 17), "lrn/size"),
    Case("lrn-size-0", _m("g (float[1,20,2,2] x) => (float y) { y = LRN<size=0>(x) }", 17), "lrn/size"),
    # a body reading the iteration count of a loop without a trip count (tf.while_loop's i < n)
    Case("loop-iteration-count-no-trip-count", _m('g (float[4] v0) => (float[4] vf) <bool c0 = {1}> { vf = Loop<body = b (int64 i, bool c, float[4] v) => (bool c2, float[4] v2) { c2 = Identity(c)\n f = Cast<to = 1>(i)\n v2 = Add(v, f) }>(, c0, v0) }', 17), "loop/iteration-count-without-trip-count"),
    Case("loop-iteration-count-with-trip-count", _m('g (float[4] v0) => (float[4] vf) <bool c0 = {1}, int64 m = {5}> { vf = Loop<body = b (int64 i, bool c, float[4] v) => (bool c2, float[4] v2) { c2 = Identity(c)\n f = Cast<to = 1>(i)\n v2 = Add(v, f) }>(m, c0, v0) }', 17)),
    Case("loop-no-trip-count-counter-unread", _m('g (float[4] v0) => (float[4] vf) <bool c0 = {1}> { vf = Loop<body = b (int64 i, bool c, float[4] v) => (bool c2, float[4] v2) { c2 = Identity(c)\n v2 = Relu(v) }>(, c0, v0) }', 17)),
    # a constant negative trip count (no iteration) sizes scan outputs by a negative length
    Case("loop-negative-trip-count-scan", _m('g (float[4] v0) => (float[4] vf, float[N,4] sc) <bool c0 = {1}, int64 m = {-3}> { vf, sc = Loop<body = b (int64 i, bool c, float[4] v) => (bool c2, float[4] v2, float[4] s) { c2 = Identity(c)\n v2 = Relu(v)\n s = Identity(v2) }>(m, c0, v0) }', 17), "loop/negative-trip-count"),
    Case("loop-zero-trip-count-scan", _m('g (float[4] v0) => (float[4] vf, float[N,4] sc) <bool c0 = {1}, int64 m = {0}> { vf, sc = Loop<body = b (int64 i, bool c, float[4] v) => (bool c2, float[4] v2, float[4] s) { c2 = Identity(c)\n v2 = Relu(v)\n s = Identity(v2) }>(m, c0, v0) }', 17)),
    Case("loop-negative-trip-count-no-scan", _m('g (float[4] v0) => (float[4] vf) <bool c0 = {1}, int64 m = {-3}> { vf = Loop<body = b (int64 i, bool c, float[4] v) => (bool c2, float[4] v2) { c2 = Identity(c)\n v2 = Relu(v) }>(m, c0, v0) }', 17)),
    # negative scan axes (valid since opset 11): the parser takes them as they are and fails
    Case("scan-negative-input-axis", _m('g (float[4] s0, float[4,4] x) => (float[4] sf, float[4,4] ys) { sf, ys = Scan<body = sb (float[4] s_in, float[4] xi) => (float[4] s_out, float[4] so) { s_out = Add(s_in, xi)\n so = Identity(s_out) }, num_scan_inputs = 1, scan_input_axes = [-1]>(s0, x) }', 16), "scan/negative-axis"),
    Case("scan-negative-output-axis", _m('g (float[4] s0, float[4,4] x) => (float[4] sf, float[4,4] ys) { sf, ys = Scan<body = sb (float[4] s_in, float[4] xi) => (float[4] s_out, float[4] so) { s_out = Add(s_in, xi)\n so = Identity(s_out) }, num_scan_inputs = 1, scan_output_axes = [-1]>(s0, x) }', 16), "scan/negative-axis"),
    Case("scan-positive-axes", _m('g (float[4] s0, float[4,4] x) => (float[4] sf, float[4,4] ys) { sf, ys = Scan<body = sb (float[4] s_in, float[4] xi) => (float[4] s_out, float[4] so) { s_out = Add(s_in, xi)\n so = Identity(s_out) }, num_scan_inputs = 1, scan_input_axes = [1], scan_output_axes = [1]>(s0, x) }', 16)),
    # layer parameters: pads, strides and dilations of at most 100,000 (kMAX_PADDING, kMAX_STRIDE, kMAX_DILATION)
    Case("conv-pads-100000", _m("g (float[1,1,4,4] x) => (float y) <float[1,1,1,1] w = {1}> { y = Conv<pads=[100000,0,0,0]>(x, w) }", 17)),
    Case("conv-pads-100001", _m("g (float[1,1,4,4] x) => (float y) <float[1,1,1,1] w = {1}> { y = Conv<pads=[100001,0,0,0]>(x, w) }", 17), "conv/pads-too-large"),
    Case("conv1d-pads-100001", _m("g (float[1,1,4] x) => (float y) <float[1,1,1] w = {1}> { y = Conv<pads=[0,100001]>(x, w) }", 17), "conv/pads-too-large"),
    Case("conv-strides-100001", _m("g (float[1,1,4,4] x) => (float y) <float[1,1,1,1] w = {1}> { y = Conv<strides=[100001,1]>(x, w) }", 17), "conv/strides-too-large"),
    Case("conv3d-strides-100000", _m("g (float[1,1,4,4,4] x) => (float y) <float[1,1,1,1,1] w = {1}> { y = Conv<strides=[100000,1,1]>(x, w) }", 17)),
    Case("conv-dilations-100001", _m("g (float[1,1,4,4] x) => (float y) <float[1,1,1,1] w = {1}> { y = Conv<dilations=[100001,1]>(x, w) }", 17), "conv/dilations-too-large"),
    Case("deconv-strides-100001", _m("g (float[1,1,4,4] x) => (float y) <float[1,1,1,1] w = {1}> { y = ConvTranspose<strides=[100001,1]>(x, w) }", 17), "convtranspose/strides-too-large"),
    Case("maxpool-strides-100001", _m("g (float[1,1,4,4] x) => (float y) { y = MaxPool<kernel_shape=[1,1], strides=[100001,1]>(x) }", 17), "maxpool/strides-too-large"),
    Case("maxpool-pads-100000", _m("g (float[1,1,4,4] x) => (float y) { y = MaxPool<kernel_shape=[3,3], pads=[100000,0,0,0]>(x) }", 17)),
    Case("maxpool-pads-100001", _m("g (float[1,1,4,4] x) => (float y) { y = MaxPool<kernel_shape=[3,3], pads=[100001,0,0,0]>(x) }", 17), "maxpool/pads-too-large"),
    # an exclusive-count average (count_include_pad=0) needs each pad below its window
    Case("avgpool-exclusive-pad-2-of-3", _m("g (float[1,1,8,8] x) => (float y) { y = AveragePool<kernel_shape=[3,3], pads=[2,0,0,0]>(x) }", 17)),
    Case("avgpool-exclusive-pad-3-of-3", _m("g (float[1,1,8,8] x) => (float y) { y = AveragePool<kernel_shape=[3,3], pads=[3,0,0,0]>(x) }", 17), "averagepool/pads-exclusive"),
    Case("avgpool-exclusive-end-pad-3-of-3", _m("g (float[1,1,H,W] x) => (float y) { y = AveragePool<kernel_shape=[3,3], pads=[0,0,3,0]>(x) }", 17), "averagepool/pads-exclusive"),
    Case("avgpool-inclusive-pad-3-of-3", _m("g (float[1,1,8,8] x) => (float y) { y = AveragePool<kernel_shape=[3,3], pads=[3,0,0,0], count_include_pad=1>(x) }", 17)),
    # slice and shuffle layers computed at build time: dims up to 2^31 - 1
    Case("pad-to-int32-max", _m("g (float[1,4] x) => (float[A,B] y) <int64[4] p = {0,0,0,2147483643}> { y = Pad(x, p) }", 17)),
    Case("pad-to-2p31", _m("g (float[1,4] x) => (float[A,B] y) <int64[4] p = {0,0,0,2147483644}> { y = Pad(x, p) }", 17), "pad/dim-too-large"),
    Case("pad-symbolic-to-2p31", _m("g (float[N,4] x) => (float[A,B] y) <int64[4] p = {2147483648,0,0,0}> { y = Pad(x, p) }", 17)),
    Case("tile-to-2p31", _m("g (float[1,4] x) => (float[A,B] y) <int64[2] r = {1,536870912}> { y = Tile(x, r) }", 17), "tile/dim-too-large"),
    Case("tile-large-volume-small-dims", _m("g (float[1,4] x) => (float[A,B] y) <int64[2] r = {65536,65536}> { y = Tile(x, r) }", 17)),
    Case("expand-to-int32-max", _m("g (float[1,4] x) => (float[A,B] y) <int64[2] s = {2147483647,4}> { y = Expand(x, s) }", 17)),
    Case("expand-to-2p31", _m("g (float[1,4] x) => (float[A,B] y) <int64[2] s = {2147483648,4}> { y = Expand(x, s) }", 17), "expand/dim-too-large"),
    Case("resize-sizes-2p31", _m("g (float[1,1,4,4] x) => (float[A,B,C,D] y) <int64[4] s = {1,1,2147483648,4}> { y = Resize(x, , , s) }", 17), "resize/dim-too-large"),
    Case("resize-sizes-int32-max", _m("g (float[1,1,4,4] x) => (float[A,B,C,D] y) <int64[4] s = {1,1,2147483647,4}> { y = Resize(x, , , s) }", 17)),
    Case("resize-scales-to-2p31", _m("g (float[1,1,4,4] x) => (float[A,B,C,D] y) <float[4] s = {1,1,536870912,1}> { y = Resize(x, , s) }", 17)),
    Case("reshape-to-2p31", _m("g () => (float[A] y) <int64[2] s0 = {1073741824,2}, int64[1] s = {2147483648}> { c = ConstantOfShape(s0)\n y = Reshape(c, s) }", 17), "reshape/dim-too-large"),
    Case("constantofshape-2p31", _m("g (float[1] x) => (float[A] y) <int64[1] s = {2147483648}> { c = ConstantOfShape(s)\n y = Add(c, x) }", 17)),
    Case("slice-steps-int32-min", _m("g (float[4,4] x) => (float y) <int64[1] a = {0}, int64[1] b = {4}, int64[1] ax = {0}, int64[1] st = {-2147483648}> { y = Slice(x, b, a, ax, st) }", 17)),
    Case("slice-steps-below-int32", _m("g (float[4,4] x) => (float y) <int64[1] a = {0}, int64[1] b = {4}, int64[1] ax = {0}, int64[1] st = {-2147483649}> { y = Slice(x, b, a, ax, st) }", 17), "slice/int32-range"),
    Case("slice-steps-2p31", _m("g (float[4,4] x) => (float y) <int64[1] a = {0}, int64[1] b = {4}, int64[1] ax = {0}, int64[1] st = {2147483648}> { y = Slice(x, a, b, ax, st) }", 17), "slice/int32-range"),
    # a constant trip count of 2^31 - 1 or more is "no trip count" (TorchScript's while, tf2onnx's while_loop write INT64_MAX)
    Case("loop-trip-count-int32-max-iteration-count", _m('g (float[4] v0) => (float[4] vf) <bool c0 = {1}, int64 m = {2147483647}> { vf = Loop<body = b (int64 i, bool c, float[4] v) => (bool c2, float[4] v2) { c2 = Identity(c)\n f = Cast<to = 1>(i)\n v2 = Add(v, f) }>(m, c0, v0) }', 17), "loop/iteration-count-without-trip-count"),
    Case("loop-trip-count-int64-max-iteration-count", _m('g (float[4] v0) => (float[4] vf) <bool c0 = {1}, int64 m = {9223372036854775807}> { vf = Loop<body = b (int64 i, bool c, float[4] v) => (bool c2, float[4] v2) { c2 = Identity(c)\n f = Cast<to = 1>(i)\n v2 = Add(v, f) }>(m, c0, v0) }', 17), "loop/iteration-count-without-trip-count"),
    Case("loop-trip-count-below-int32-max-iteration-count", _m('g (float[4] v0) => (float[4] vf) <bool c0 = {1}, int64 m = {2147483646}> { vf = Loop<body = b (int64 i, bool c, float[4] v) => (bool c2, float[4] v2) { c2 = Identity(c)\n f = Cast<to = 1>(i)\n v2 = Add(v, f) }>(m, c0, v0) }', 17)),
    Case("loop-trip-count-int64-max-scan", _m('g (float[4] v0) => (float[4] vf, float[N,4] sc) <bool c0 = {1}, int64 m = {9223372036854775807}> { vf, sc = Loop<body = b (int64 i, bool c, float[4] v) => (bool c2, float[4] v2, float[4] s) { c2 = Identity(c)\n v2 = Relu(v)\n s = Identity(v2) }>(m, c0, v0) }', 17), "loop/scan-output-without-trip-count"),
    Case("loop-trip-count-int64-max-counter-unread", _m('g (float[4] v0) => (float[4] vf) <bool c0 = {1}, int64 m = {9223372036854775807}> { vf = Loop<body = b (int64 i, bool c, float[4] v) => (bool c2, float[4] v2) { c2 = Identity(c)\n v2 = Relu(v) }>(m, c0, v0) }', 17)),
    # a body reading its condition input, in a loop without a condition input
    Case("loop-no-condition-body-reads-it", _m('g (float[4] v0) => (float[4] vf) <int64 m = {4}> { vf = Loop<body = b (int64 i, bool c, float[4] v) => (bool c2, float[4] v2) { c2 = Identity(c)\n v2 = Relu(v) }>(m, , v0) }', 17), "loop/condition-without-condition-input"),
    Case("loop-no-condition-body-passes-it-through", _m('g (float[4] v0) => (float[4] vf) <int64 m = {4}> { vf = Loop<body = b (int64 i, bool c, float[4] v) => (bool c, float[4] v2) { v2 = Relu(v) }>(m, , v0) }', 17)),
    Case("loop-condition-body-reads-it", _m('g (float[4] v0) => (float[4] vf) <int64 m = {4}, bool c0 = {1}> { vf = Loop<body = b (int64 i, bool c, float[4] v) => (bool c2, float[4] v2) { c2 = Identity(c)\n v2 = Relu(v) }>(m, c0, v0) }', 17)),
    Case("gru-layout1-seqlens-batch-ne-steps", _m(f"g (float[2,5,3] x, int32[2] sl) => (float y) <float[1,12,3] w = {{{_W36}}}, float[1,12,4] r = {{{_W48}}}> {{ y = GRU<hidden_size=4, layout=1>(x, w, r, , sl) }}", 14), "gru/layout-sequence-lens"),
]
# fmt: on


def cases():
    """(name, model) for every case."""
    return [(c.id, c.model) for c in CASES]
