"""Oracle cases for the tensor, indexing, control-flow and custom-domain rules.

`CASES` lists (id, model text, opset, extra domains, target, expected status, expected code);
`tests/kb/test_tensor_rules.py` checks the static verdicts, and the agreement oracle
(`python -m tools.oracle`) parses every model of `cases()` with the real parser.
"""

from __future__ import annotations

import onnx
import onnx.parser

SUPPORTED, UNSUPPORTED, PLUGIN = "supported", "unsupported", "plugin"


def model(text: str, opset: int, domains: dict[str, int] | None = None) -> onnx.ModelProto:
    imports = ", ".join([f'"": {opset}', *(f'"{d}": {v}' for d, v in (domains or {}).items())])
    return onnx.parser.parse_model(f"<ir_version: 10, opset_import: [{imports}]>\n{text}")


MS = {"com.microsoft": 1}
#: Shape -> Gather -> Cast -> QuantizeLinear -> DequantizeLinear -> Cast: a quantized rank-0
#: size `i`, unsqueezed into `u` (each case writes the graph's end; the output y is INT64 of
#: rank 1 unless `_qdq_scalar` is told otherwise).
QDQ_SCALAR = (
    "g (float[N,4,8,8] x) => (Y) <float sc = {1}, int8 zp = {0}, int64 i2 = {2}, "
    "int64 zero = {0}, int64[1] ax = {0}, int64[1] one = {1}> "
    "{ s = Shape(x) h = Gather<axis=0>(s, i2) f = Cast<to=1>(h) "
    "q = QuantizeLinear(f, sc, zp) d = DequantizeLinear(q, sc, zp) i = Cast<to=7>(d) "
    "u = Unsqueeze(i, ax) "
)


def _qdq_scalar(tail: str, output: str = "int64[?] y") -> str:
    return QDQ_SCALAR.replace("(Y)", f"({output})") + tail


ML = {"ai.onnx.ml": 3}
IF_COL2IM = """g (bool c, float[4] x) => (float[4] y) {
  y = If(c) <then_branch = t () => (float[4] a) { a = Identity(x) },
             else_branch = e () => (float[4] b) { b = Col2Im(x, x, x) }> }"""
IF_COL2IM_CONST = IF_COL2IM.replace("(bool c, float[4] x)", "(float[4] x)").replace(
    "{\n  y = If", "<bool c = {1}> {\n  y = If"
)
LOOP_SCAN = """g (float[4] x, bool c) => (float[4] y, float z) {
  y, z = Loop(, c, x) <body = body (int64 i, bool cin, float[4] s) => (bool cout, float[4] so,
      float[4] sc) { cout = Identity(cin) so = Identity(s) sc = Identity(so) }> }"""

# (id, model text, opset, domains, target, status, code expected among the node's reasons)
CASES = [
    (
        "split-negative-last-chunk",
        "g (float[1,4] x) => (float a, float b, float c) "
        "{ a, b, c = Split<axis=0, num_outputs=3>(x) }",
        18,
        None,
        "rtx-1",
        UNSUPPORTED,
        "split/negative-last-chunk",
    ),
    (
        "range-float-from-int-input",
        "g (int64 n) => (float y) <float s = {0.0}, float d = {1.0}> "
        "{ l = Cast<to=1>(n) y = Range(s, l, d) }",
        11,
        None,
        "rtx-1",
        SUPPORTED,
        None,
    ),
    (
        "loop-trip-count-from-float-input-ok",
        "g (float[4] x, float l) => (float[4] y) <bool c = {1}> "
        "{ m = Cast<to=7>(l) y = Loop(m, c, x) <body = body (int64 i, bool cin, float[4] s) "
        "=> (bool cout, float[4] so) { cout = Identity(cin) so = Identity(s) }> }",
        16,
        None,
        "rtx-1",
        SUPPORTED,
        None,
    ),
    (
        "loop-scan-trip-count-from-float-input",
        "g (float[4] x, float l) => (float[4] y, float z) <bool c = {1}> "
        "{ m = Cast<to=7>(l) y, z = Loop(m, c, x) <body = body (int64 i, bool cin, float[4] s) "
        "=> (bool cout, float[4] so, float[4] sc) { cout = Identity(cin) so = Identity(s) "
        "sc = Identity(s) }> }",
        16,
        None,
        "rtx-1",
        UNSUPPORTED,
        "loop/trip-count",
    ),
    (
        "reshape-shape-from-float-input",
        "g (float[6] x, float[2] f) => (float y) { s = Cast<to=7>(f) y = Reshape(x, s) }",
        16,
        None,
        "rtx-1",
        UNSUPPORTED,
        "reshape/float-shape-input",
    ),
    (
        "squeeze-axes-init",
        "g (float[1,3] x) => (float[3] y) <int64[1] a = {0}> { y = Squeeze(x, a) }",
        13,
        None,
        "rtx-1",
        SUPPORTED,
        None,
    ),
    (
        "unsqueeze-axes-input",
        "g (float[3] x, int64[1] a) => (float y) { y = Unsqueeze(x, a) }",
        13,
        None,
        "rtx-1",
        UNSUPPORTED,
        "input-not-constant",
    ),
    (
        "unsqueeze-axes-from-shape",
        "g (float[2,3] x, float[5] z) => (float y) "
        "{ s = Shape(z) c = Constant<value=int64[1] {4}>() a = Sub(s, c) y = Unsqueeze(x, a) }",
        13,
        None,
        "rtx-1",
        SUPPORTED,
        None,
    ),
    (
        "constantofshape-from-data",
        "g (float[2,3] x) => (float y) <int64[1] ax = {0}> { r = ReduceMax<keepdims=0>(x) "
        "i = Cast<to=7>(r) u = Unsqueeze(i, ax) y = ConstantOfShape(u) }",
        13,
        None,
        "rtx-1",
        UNSUPPORTED,
        "constantofshape/float-shape-input",
    ),
    (
        "reshape-shape-input",
        "g (float[2,3] x, int64[2] s) => (float y) { y = Reshape(x, s) }",
        13,
        None,
        "rtx-1",
        SUPPORTED,
        None,
    ),
    (
        "concat-uint8",
        "g (uint8[2] a) => (uint8 y) { y = Concat<axis=0>(a, a) }",
        13,
        None,
        "rtx-1",
        UNSUPPORTED,
        "unsupported-dtype",
    ),
    (
        "pad-wrap",
        'g (float[4,4] x) => (float y) <int64[4] p = {1,1,1,1}> { y = Pad<mode="wrap">(x, p) }',
        19,
        None,
        "rtx-1",
        SUPPORTED,
        None,
    ),
    (
        "resize-half-pixel-symmetric",
        "g (float[1,1,4,4] x) => (float y) <float[4] s = {1,1,2,2}> "
        '{ y = Resize<mode="linear", coordinate_transformation_mode="half_pixel_symmetric">'
        "(x, , s) }",
        19,
        None,
        "rtx-1",
        UNSUPPORTED,
        "resize/coordinate-transformation-mode",
    ),
    (
        "resize-antialias",
        "g (float[1,1,4,4] x) => (float y) <float[4] s = {1,1,0.5,0.5}> "
        '{ y = Resize<mode="linear", antialias=1>(x, , s) }',
        19,
        None,
        "rtx-1",
        UNSUPPORTED,
        "resize/antialias",
    ),
    (
        "resize-scales-network-input",
        'g (float[1,1,4,4] x, float[4] s) => (float y) { y = Resize<mode="nearest">(x, , s) }',
        19,
        None,
        "rtx-1",
        UNSUPPORTED,
        "resize/float-shape-input",
    ),
    (
        "resize-scales-from-shape",
        "g (float[1,1,4,4] x, float[1,1,8,8] z) => (float y) "
        '{ s = Shape(z) f = Cast<to=1>(s) q = Div(f, f) y = Resize<mode="nearest">(x, , q) }',
        19,
        None,
        "rtx-1",
        SUPPORTED,
        None,
    ),
    (
        "resize-linear-4-dims",
        "g (float[1,1,4,4] x) => (float y) <float[4] s = {2,2,2,2}> "
        '{ y = Resize<mode="linear">(x, , s) }',
        19,
        None,
        "rtx-1",
        UNSUPPORTED,
        "resize/scaled-dims",
    ),
    (
        "resize-int32-data",
        "g (int32[1,1,4,4] x) => (int32 y) <float[4] s = {1,1,2,2}> { y = Resize(x, , s) }",
        19,
        None,
        "rtx-1",
        UNSUPPORTED,
        "unsupported-dtype",
    ),
    (
        "range-float-input",
        "g (float s, float l, float d) => (float y) { y = Range(s, l, d) }",
        11,
        None,
        "rtx-1",
        UNSUPPORTED,
        "range/float-shape-input",
    ),
    (
        "range-int64-input",
        "g (int64 s, int64 l, int64 d) => (int64 y) { y = Range(s, l, d) }",
        11,
        None,
        "rtx-1",
        SUPPORTED,
        None,
    ),
    (
        "onehot-float-depth-input",
        "g (int64[3] i, float d) => (float y) <float[2] v = {0,1}> { y = OneHot(i, d, v) }",
        11,
        None,
        "rtx-1",
        UNSUPPORTED,
        "onehot/float-shape-input",
    ),
    (
        "onehot-int-depth-input",
        "g (int64[3] i, int64[1] d) => (float y) <float[2] v = {0,1}> { y = OneHot(i, d, v) }",
        11,
        None,
        "rtx-1",
        SUPPORTED,
        None,
    ),
    (
        "eyelike-dynamic",
        "g (float[N,4] x) => (float y) { y = EyeLike(x) }",
        13,
        None,
        "rtx-1",
        UNSUPPORTED,
        "eyelike/dynamic-shape",
    ),
    (
        "depthtospace-5d",
        "g (float[1,8,2,2,2] x) => (float y) { y = DepthToSpace<blocksize=2>(x) }",
        13,
        None,
        "rtx-1",
        UNSUPPORTED,
        "depthtospace/rank",
    ),
    (
        "gridsample-5d",
        "g (float[1,1,4,4,4] x, float[1,2,2,2,3] g) => (float y) { y = GridSample(x, g) }",
        20,
        None,
        "rtx-1",
        SUPPORTED,
        None,
    ),
    (
        "gridsample-3d",
        "g (float[1,1,4] x, float[1,2,1] g) => (float y) { y = GridSample(x, g) }",
        20,
        None,
        "rtx-1",
        UNSUPPORTED,
        "gridsample/rank",
    ),
    (
        "where-int-condition",
        "g (int32[4] c, float[4] a, float[4] b) => (float y) { y = Where(c, a, b) }",
        16,
        None,
        "rtx-1",
        UNSUPPORTED,
        "unsupported-dtype",
    ),
    (
        "trilu-1d",
        "g (float[4] x) => (float y) { y = Trilu(x) }",
        14,
        None,
        "rtx-1",
        UNSUPPORTED,
        "trilu/rank",
    ),
    (
        "constant-strings",
        'g (float[2] a) => (float[2] y) { y = Identity(a) c = Constant<value_strings=["a"]>() }',
        13,
        None,
        "rtx-1",
        UNSUPPORTED,
        "constant/attribute",
    ),
    (
        "constantofshape-uint8",
        "g (int64[2] s) => (uint8 y) { y = ConstantOfShape<value=uint8[1] {1}>(s) }",
        13,
        None,
        "rtx-1",
        UNSUPPORTED,
        "constantofshape/value-type",
    ),
    (
        "scatternd-add",
        "g (float[4,4] x, int64[1,1] i, float[1,4] u) => (float y) "
        '{ y = ScatterND<reduction="add">(x, i, u) }',
        16,
        None,
        "rtx-1",
        UNSUPPORTED,
        "scatternd/reduction",
    ),
    (
        "scatterelements-add-rtx",
        "g (float[4,4] x, int64[1,4] i, float[1,4] u) => (float y) "
        '{ y = ScatterElements<reduction="add">(x, i, u) }',
        16,
        None,
        "rtx-1",
        UNSUPPORTED,
        "scatterelements/reduction",
    ),
    (
        "scatterelements-add-trt",
        "g (float[4,4] x, int64[1,4] i, float[1,4] u) => (float y) "
        '{ y = ScatterElements<reduction="add">(x, i, u) }',
        16,
        None,
        "trt-10",
        SUPPORTED,
        None,
    ),
    (
        "tensorscatter-axis1",
        "g (float[1,8,2,4] c, float[1,1,2,4] u, int64[1] w) => (float y) "
        "{ y = TensorScatter<axis=1>(c, u, w) }",
        24,
        None,
        "rtx-1",
        UNSUPPORTED,
        "tensorscatter/axis",
    ),
    (
        "topk-k-above-limit",
        "g (float[5000] x) => (float v, int64 i) <int64[1] k = {4000}> { v, i = TopK(x, k) }",
        11,
        None,
        "rtx-1",
        UNSUPPORTED,
        "topk/k-too-large",
    ),
    (
        "nonzero-rtx",  # RTX's importer asks for a NonZero plugin: trtforge declares it
        "g (float[4] x) => (int64 y) { y = NonZero(x) }",
        13,
        None,
        "rtx-1",
        PLUGIN,
        None,
    ),
    (
        "nonzero-trt",
        "g (float[4] x) => (int64 y) { y = NonZero(x) }",
        13,
        None,
        "trt-10",
        SUPPORTED,
        None,
    ),
    (
        "nms",
        "g (float[1,4,4] b, float[1,1,4] s) => (int64 y) <int64[1] m = {3}> "
        "{ y = NonMaxSuppression(b, s, m) }",
        11,
        None,
        "rtx-1",
        SUPPORTED,
        None,
    ),
    (
        "unique",
        "g (float[4] x) => (float y) { y = Unique(x) }",
        13,
        None,
        "rtx-1",
        UNSUPPORTED,
        "not-available",
    ),
    (
        "sequence",
        "g (float[4] a) => (float[4] y) <int64 i = {0}> "
        "{ s = SequenceConstruct(a, a) y = SequenceAt(s, i) }",
        16,
        None,
        "rtx-1",
        UNSUPPORTED,
        "not-available",
    ),
    ("if-inner-unsupported", IF_COL2IM, 18, None, "rtx-1", UNSUPPORTED, "not-available"),
    ("if-constant-condition", IF_COL2IM_CONST, 18, None, "rtx-1", SUPPORTED, None),
    (
        "loop-scan-without-trip-count",
        LOOP_SCAN,
        16,
        None,
        "rtx-1",
        UNSUPPORTED,
        "loop/scan-output-without-trip-count",
    ),
    (
        "ml-normalizer",
        "g (float[4,4] x) => (float y) { y = ai.onnx.ml.Normalizer(x) }",
        17,
        ML,
        "rtx-1",
        UNSUPPORTED,
        "not-available",
    ),
    (
        "ms-simplified-layernorm-rtx",
        "g (float[4,4] x) => (float y) <float[4] g = {1,1,1,1}> "
        "{ y = com.microsoft.SimplifiedLayerNormalization(x, g) }",
        17,
        MS,
        "rtx-1",
        SUPPORTED,
        None,
    ),
    (
        "ms-simplified-layernorm-trt",
        "g (float[4,4] x) => (float y) <float[4] g = {1,1,1,1}> "
        "{ y = com.microsoft.SimplifiedLayerNormalization(x, g) }",
        17,
        MS,
        "trt-10",
        UNSUPPORTED,
        "custom-domain-op",
    ),
    (
        "ms-fastgelu",
        "g (float[4,4] x) => (float y) { y = com.microsoft.FastGelu(x) }",
        17,
        MS,
        "rtx-1",
        UNSUPPORTED,
        "custom-domain-op",
    ),
    (
        "custom-domain-builtin",
        "g (float[4,4] x) => (float y) { y = my.dom.Transpose(x) }",
        17,
        {"my.dom": 1},
        "rtx-1",
        SUPPORTED,
        None,
    ),
    (
        "trt-attention-before-11",
        "g (float[4,4] x) => (float y) { y = trt.TRT_Attention(x) }",
        17,
        {"trt": 1},
        "trt-10",
        UNSUPPORTED,
        "custom-domain-op",
    ),
    (
        "shipped-plugin-trt",
        "g (float[1,4,4] b, float[1,4,2] s) => (int32 n) { n = EfficientNMS_TRT(b, s) }",
        17,
        None,
        "trt-10",
        PLUGIN,
        None,
    ),
    (
        "shipped-plugin-rtx",
        "g (float[1,4,4] b, float[1,4,2] s) => (int32 n) { n = EfficientNMS_TRT(b, s) }",
        17,
        None,
        "rtx-1",
        UNSUPPORTED,
        "unknown-op",
    ),
    (
        "removed-plugin-trt11",
        "g (float[4] x) => (float y) { y = Clip_TRT(x) }",
        17,
        None,
        "trt-11",
        UNSUPPORTED,
        "unknown-op",
    ),
    # A rank-0 value computed by QuantizeLinear/DequantizeLinear, then unsqueezed: TensorRT
    # cannot compute the extent (onnxruntime quantizes MobileViT's float patch arithmetic so).
    ("qdq-scalar-unsqueeze-concat", _qdq_scalar("y = Concat<axis=0>(one, u) }"), 17, None,
     "rtx-1", UNSUPPORTED, "concat/quantized-scalar-extent"),
    ("qdq-scalar-unsqueeze-add-concat", _qdq_scalar("a = Add(u, one) y = Concat<axis=0>(one, a) }"),
     17, None, "rtx-1", UNSUPPORTED, "concat/quantized-scalar-extent"),
    ("qdq-scalar-unsqueeze-reshape-shape", _qdq_scalar("y = Reshape(x, u) }", "float[?] y"), 17, None, "rtx-1",
     UNSUPPORTED, "reshape/quantized-scalar-extent"),
    ("qdq-scalar-concat-of-unsqueezed-only",
     _qdq_scalar("u2 = Unsqueeze(i, ax) y = Concat<axis=0>(u, u2) }"), 17, None, "rtx-1",
     SUPPORTED, None),
    ("qdq-scalar-reshaped-to-1", _qdq_scalar("r = Reshape(i, one) y = Concat<axis=0>(one, r) }"),
     17, None, "rtx-1", SUPPORTED, None),
    ("qdq-scalar-unsqueeze-gather", _qdq_scalar("y = Gather<axis=0>(u, zero) }", "int64 y"), 17, None,
     "rtx-1", SUPPORTED, None),
    (
        "qdq-shape-vector-reshape",
        "g (float[N,4,8,8] x) => (float[N,4,8,8] y) <float sc = {1}, int8 zp = {0}> "
        "{ s = Shape(x) f = Cast<to=1>(s) q = QuantizeLinear(f, sc, zp) "
        "d = DequantizeLinear(q, sc, zp) i = Cast<to=7>(d) y = Reshape(x, i) }",
        17, None, "rtx-1", SUPPORTED, None,
    ),
    (
        "dequantized-int8-constant-reshape-shape",
        "g (float[N,4,8,8] x) => (float[?,?,?] y) <float sc = {1}, int8 zp = {0}, "
        "int8[3] w = {1, -1, 8}> { d = DequantizeLinear(w, sc, zp) i = Cast<to=7>(d) "
        "y = Reshape(x, i) }",
        17, None, "rtx-1", UNSUPPORTED, "reshape/quantized-constant-shape",
    ),
    # shapes that do not fit, which ONNX shape inference passes (or reports only as a merge
    # error) and the parser refuses
    ("concat-dims-differ-off-axis",
     "g (float[1,1,1,1] a, float[N,4,8,8] b) => (float[?,4,8,8] y) { y = Concat<axis=0>(a, b) }",
     17, None, "rtx-1", UNSUPPORTED, "concat/shapes-mismatch"),
    ("conv-channels-differ",
     "g (float[1,3,8,8] x, float[8,4,3,3] w) => (float[1,8,6,6] y) { y = Conv(x, w) }",
     17, None, "rtx-1", UNSUPPORTED, "conv/shapes-mismatch"),
    ("conv-grouped-channels-fit",
     "g (float[1,4,8,8] x, float[8,2,3,3] w) => (float[1,8,6,6] y) { y = Conv<group=2>(x, w) }",
     17, None, "rtx-1", SUPPORTED, None),
    ("reshape-element-count-differs",
     "g (float[2,3] x) => (float[4,2] y) <int64[2] s = {4, 2}> { y = Reshape(x, s) }",
     17, None, "rtx-1", UNSUPPORTED, "reshape/shapes-mismatch"),
    ("conv-kernel-shape-differs-from-weights",
     "g (float[1,1,8,8] x) => (float[1,1,4,4] y) <float[1,1,3,3] w = {1,1,1,1,1,1,1,1,1}> "
     "{ y = Conv<kernel_shape=[5,5]>(x, w) }", 17, None, "rtx-1", UNSUPPORTED,
     "conv/shapes-mismatch"),
    ("gemm-bias-does-not-broadcast",
     "g (float[2,3] x, float[3,4] w, float[5] b) => (float[2,4] y) { y = Gemm(x, w, b) }",
     17, None, "rtx-1", UNSUPPORTED, "gemm/shapes-mismatch"),
    ("maxpool-window-larger-than-input",
     "g (float[1,1,4,4] x) => (float[1,1,?,?] y) { y = MaxPool<kernel_shape=[6,6]>(x) }",
     17, None, "rtx-1", UNSUPPORTED, "maxpool/shapes-mismatch"),
    ("maxpool-window-fits-once-padded",
     "g (float[1,1,4,4] x) => (float[1,1,1,1] y) "
     "{ y = MaxPool<kernel_shape=[6,6], pads=[1,1,1,1]>(x) }",
     17, None, "rtx-1", SUPPORTED, None),
]  # fmt: skip


def cases():
    """(name, model) for the oracle (which scores rtx-1): every distinct rtx-1 model of CASES."""
    seen = set()
    for case_id, text, opset, domains, target, *_ in CASES:
        if target != "rtx-1":
            continue
        key = (text, opset, tuple(sorted((domains or {}).items())))
        if key in seen:
            continue
        seen.add(key)
        yield case_id, model(text, opset, domains)


#: cases the parser accepts and the builder refuses (their static verdict is the builder's)
BUILDER_REFUSES = frozenset({"topk-k-above-limit"})
