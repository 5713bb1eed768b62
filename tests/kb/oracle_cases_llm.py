"""Fixtures for the contrib ops of LLM exports (onnxruntime-genai's builder) and TensorRT's
weight-only INT4 form, each with the verdict the TensorRT-RTX 1.7.1 parser gives it.

Each case isolates one importer condition on a one-node (or DequantizeLinear + one-node) model
of its own. `test_llm_rules.py` checks the static verdicts (and, with tensorrt_rtx installed,
the parser's); the agreement oracle loads `cases()` from this module into its corpus. The
module is self-contained (the oracle imports it by path).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper, numpy_helper


class Case(NamedTuple):
    id: str
    model: onnx.ModelProto
    code: str | None = None  # expected finding code on the last node; None: supported
    target: str = "rtx-1"


MS = "com.microsoft"
_RNG = np.random.default_rng(0)
H, KV, HD = 4, 2, 16


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def _model(nodes, inputs, outputs, inits=(), checked=True):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid(MS, 1)],
        ir_version=10,
    )
    if checked:  # onnxruntime's default-domain SimplifiedLayerNormalization is no ONNX op
        onnx.checker.check_model(model)
    return model


def _np(elem):
    return np.float16 if elem == TP.FLOAT16 else np.float32


def matmul_nbits(elem=TP.FLOAT16, bits=4, block=32, k=64, n=32, zp=False, bias=False):
    blocks = -(-k // block)
    b = _RNG.integers(0, 256, (n, blocks, block * bits // 8), dtype=np.uint8)
    inits = [
        numpy_helper.from_array(b, "B"),
        numpy_helper.from_array((_RNG.random(n * blocks) * 0.1).astype(_np(elem)), "S"),
    ]
    names = ["A", "B", "S"]
    if zp:
        per_row = -(-blocks * bits // 8)
        inits.append(numpy_helper.from_array(np.full(n * per_row, 0x88, np.uint8), "Z"))
        names.append("Z")
    if bias:
        names += [""] * (5 - len(names))
        inits.append(numpy_helper.from_array(np.zeros(n, _np(elem)), "bias"))
        names.append("bias")
    node = helper.make_node(
        "MatMulNBits", names, ["Y"], domain=MS, K=k, N=n, bits=bits, block_size=block
    )
    return _model([node], [_vi("A", elem, ["b", "s", k])], [_vi("Y", elem, ["b", "s", n])], inits)


def gqa(elem=TP.FLOAT16, scale=0.25, packed=False, rotary=False):
    attrs = {"num_heads": H, "kv_num_heads": KV}
    if scale:
        attrs["scale"] = scale
    inputs = [_vi("pk", elem, ["b", KV, "p", HD]), _vi("pv", elem, ["b", KV, "p", HD])]
    inputs += [_vi("sl", TP.INT32, ["b"]), _vi("tsl", TP.INT32, [])]
    inits = []
    if packed:
        names = ["q", "", ""]
        inputs.insert(0, _vi("q", elem, ["b", "s", (H + 2 * KV) * HD]))
    else:
        names = ["q", "k", "v"]
        inputs[:0] = [
            _vi("q", elem, ["b", "s", H * HD]),
            _vi("k", elem, ["b", "s", KV * HD]),
            _vi("v", elem, ["b", "s", KV * HD]),
        ]
    names += ["pk", "pv", "sl", "tsl"]
    if rotary:
        attrs["do_rotary"] = 1
        for name in ("cos", "sin"):
            cache = _RNG.random((64, HD // 2)).astype(_np(elem))
            inits.append(numpy_helper.from_array(cache, name))
        names += ["cos", "sin"]
    node = helper.make_node("GroupQueryAttention", names, ["o", "pk2", "pv2"], domain=MS, **attrs)
    outputs = [
        _vi("o", elem, ["b", "s", H * HD]),
        _vi("pk2", elem, ["b", KV, "t", HD]),
        _vi("pv2", elem, ["b", KV, "t", HD]),
    ]
    return _model([node], inputs, outputs, inits)


def mha(elem=TP.FLOAT, present=False):
    hidden = H * HD
    if present:
        node = helper.make_node(
            "MultiHeadAttention",
            ["q", "k", "v", "", "", "", "pk", "pv"],
            ["o", "pk2", "pv2"],
            domain=MS,
            num_heads=H,
        )
        inputs = [_vi(n, elem, ["b", "s", hidden]) for n in ("q", "k", "v")]
        inputs += [_vi(n, elem, ["b", H, "p", HD]) for n in ("pk", "pv")]
        outputs = [_vi("o", elem, ["b", "s", hidden])]
        outputs += [_vi(n, elem, ["b", H, "t", HD]) for n in ("pk2", "pv2")]
        return _model([node], inputs, outputs)
    node = helper.make_node("MultiHeadAttention", ["q", "k", "v"], ["o"], domain=MS, num_heads=H)
    inputs = [_vi("q", elem, ["b", "s", hidden])]
    inputs += [_vi(n, elem, ["b", "t", hidden]) for n in ("k", "v")]
    return _model([node], inputs, [_vi("o", elem, ["b", "s", hidden])])


def ms_rotary(elem=TP.FLOAT, num_heads: int | None = H, rank=3, heads=H):
    """com.microsoft RotaryEmbedding; num_heads None: the attribute absent (0 is onnxruntime's
    default, written explicitly by onnxruntime-genai's DML and fp16 CPU exports)."""
    caches = [
        numpy_helper.from_array(_RNG.random((64, HD // 2)).astype(_np(elem)), n)
        for n in ("cos", "sin")
    ]
    attrs = {} if num_heads is None else {"num_heads": num_heads}
    node = helper.make_node(
        "RotaryEmbedding", ["x", "pos", "cos", "sin"], ["y"], domain=MS, **attrs
    )
    shape = ["b", "s", heads * HD] if rank == 3 else ["b", heads, "s", HD]
    return _model(
        [node],
        [_vi("x", elem, shape), _vi("pos", TP.INT64, ["b", "s"])],
        [_vi("y", elem, shape)],
        caches,
    )


def ms_attention(elem=TP.FLOAT, bias=True):
    """com.microsoft Attention: hidden states, packed QKV weights [hidden, 3*hidden], bias."""
    hidden = H * HD
    inits = [numpy_helper.from_array(_RNG.random((hidden, 3 * hidden)).astype(_np(elem)), "w")]
    if bias:
        inits.append(numpy_helper.from_array(_RNG.random(3 * hidden).astype(_np(elem)), "bb"))
    node = helper.make_node(
        "Attention", ["x", "w"] + ["bb"] * bias, ["y"], domain=MS, num_heads=H, unidirectional=1
    )
    hid = [_vi("x", elem, ["b", "s", hidden])]
    return _model([node], hid, [_vi("y", elem, ["b", "s", hidden])], inits)


def mha_attention_bias(elem=TP.FLOAT16):
    """MultiHeadAttention with a 4-D additive mask (attention_bias), as the fp16 CPU export."""
    hidden = H * HD
    node = helper.make_node(
        "MultiHeadAttention", ["q", "k", "v", "", "", "m"], ["o"], domain=MS, num_heads=H
    )
    inputs = [_vi(n, elem, ["b", "s", hidden]) for n in ("q", "k", "v")]
    inputs.append(_vi("m", elem, ["b", H, "s", "s"]))
    return _model([node], inputs, [_vi("o", elem, ["b", "s", hidden])])


def norm(op, inputs, elem=TP.FLOAT, domain=MS, outputs=("y",)):
    gamma = numpy_helper.from_array(np.ones(64, _np(elem)), "g")
    beta = numpy_helper.from_array(np.zeros(64, _np(elem)), "beta")
    node = helper.make_node(op, inputs, list(outputs), domain=domain, epsilon=1e-5)
    data = [_vi(n, elem, ["b", "s", 64]) for n in inputs if n in ("x", "sk")]
    inits = [t for t in (gamma, beta) if t.name in inputs]
    outs = [_vi(n, elem, ["b", "s", 64]) for n in outputs if n]
    return _model([node], data, outs, inits, checked=domain == MS)


def packed_attention(elem=TP.FLOAT):
    w = numpy_helper.from_array(_RNG.random((64, 192)).astype(_np(elem)), "w")
    b = numpy_helper.from_array(_RNG.random(192).astype(_np(elem)), "bb")
    node = helper.make_node(
        "PackedAttention", ["x", "w", "bb", "to", "cs"], ["y"], domain=MS, num_heads=H
    )
    inputs = [_vi("x", elem, ["t", 64]), _vi("to", TP.INT32, ["b", "s"])]
    inputs.append(_vi("cs", TP.INT32, ["b1"]))
    return _model([node], inputs, [_vi("y", elem, ["t", 64])], [w, b])


def qmoe(elem=TP.FLOAT16, alpha=True, block=128, activation="swiglu", normalize=1, rank=3):
    """A com.microsoft QMoE of 4 experts with 4-bit weights (onnxruntime-genai's MoE layer):
    hidden 128, intermediate 128, top-2 routing, block-wise scales when `block` is set."""
    experts, hidden, inter = 4, 128, 128
    fused = 2 if activation == "swiglu" else 1
    per_row = hidden // block if block else 1
    np_elem = _np(elem)
    inits = [
        numpy_helper.from_array(
            _RNG.integers(0, 255, (experts, fused * inter, hidden // 2), dtype=np.uint8), "w1"
        ),
        numpy_helper.from_array(
            (_RNG.random((experts, fused * inter, per_row)) * 0.01).astype(np_elem), "s1"
        ),
        numpy_helper.from_array(
            _RNG.integers(0, 255, (experts, hidden, inter // 2), dtype=np.uint8), "w2"
        ),
        numpy_helper.from_array(
            (_RNG.random((experts, hidden, inter // (block or inter))) * 0.01).astype(np_elem), "s2"
        ),
    ]
    attrs = dict(
        activation_type=activation,
        expert_weight_bits=4,
        k=2,
        normalize_routing_weights=normalize,
        swiglu_fusion=1 if activation == "swiglu" else 0,
        use_sparse_mixer=0,
    )
    if alpha:
        attrs.update(activation_alpha=1.0, activation_beta=0.0)
    if block:
        attrs["block_size"] = block
    node = helper.make_node(
        "QMoE", ["x", "router", "w1", "s1", "", "w2", "s2"], ["y"], domain=MS, **attrs
    )
    dims = ["b", "s", hidden] if rank == 3 else ["rows", hidden]
    inputs = [_vi("x", elem, dims), _vi("router", elem, ["rows", experts])]
    return _model([node], inputs, [_vi("y", elem, dims)], inits, checked=False)


def gather_block_quantized(elem=TP.FLOAT):
    data = numpy_helper.from_array(_RNG.integers(0, 256, (128, 32), dtype=np.uint8), "data")
    scales = numpy_helper.from_array(_RNG.random((128, 2)).astype(_np(elem)), "sc")
    node = helper.make_node(
        "GatherBlockQuantized",
        ["data", "ids", "sc"],
        ["y"],
        domain=MS,
        gather_axis=0,
        quantize_axis=1,
        block_size=32,
        bits=4,
    )
    return _model(
        [node], [_vi("ids", TP.INT64, ["b", "s"])], [_vi("y", elem, ["b", "s", 64])], [data, scales]
    )


def int4_weights(elem=TP.FLOAT, op="MatMul", k=64, n=32, block=32, qtype=TP.INT4, sign=1.0):
    """TensorRT's weight-only form: DequantizeLinear(int4 [K, N], scales, axis 0, block) then
    MatMul (or Gather of rows)."""
    weights = helper.make_tensor("W", qtype, (k, n), _RNG.integers(-8, 8, k * n).tolist())
    values = sign * (_RNG.random((k // block, n)) + 0.1)
    scales = numpy_helper.from_array(values.astype(_np(elem)), "S")
    dq = helper.make_node("DequantizeLinear", ["W", "S"], ["Wf"], axis=0, block_size=block)
    if op == "none":  # DequantizeLinear alone, its output the graph's
        return _model([dq], [], [_vi("Wf", elem, [k, n])], [weights, scales])
    if op == "MatMul":
        last = helper.make_node("MatMul", ["A", "Wf"], ["Y"])
        inputs, out = [_vi("A", elem, ["b", "s", k])], [_vi("Y", elem, ["b", "s", n])]
    else:
        last = helper.make_node("Gather", ["Wf", "ids"], ["Y"], axis=0)
        inputs, out = [_vi("ids", TP.INT64, ["b", "s"])], [_vi("Y", elem, ["b", "s", n])]
    return _model([dq, last], inputs, out, [weights, scales])


F32, F16 = TP.FLOAT, TP.FLOAT16
CASES: list[Case] = [
    # --- MatMulNBits: the importer's conditions in its order, then the missing plugin
    Case("mnb-fp32", matmul_nbits(F32), "matmulnbits/activation-dtype"),
    Case("mnb-fp16", matmul_nbits(F16), "matmulnbits/plugin-missing"),
    Case("mnb-fp16-zp-bias", matmul_nbits(F16, zp=True, bias=True), "matmulnbits/plugin-missing"),
    Case("mnb-fp16-bits8", matmul_nbits(F16, bits=8), "matmulnbits/plugin-missing"),
    Case("mnb-fp16-bits2", matmul_nbits(F16, bits=2), "matmulnbits/bits"),
    Case("mnb-fp16-bs16", matmul_nbits(F16, block=16), "matmulnbits/block-size"),
    Case("mnb-fp16-bs128", matmul_nbits(F16, block=128, k=256), "matmulnbits/plugin-missing"),
    # --- GroupQueryAttention: scale must be set, then the missing plugin
    Case("gqa-fp16", gqa(F16), "groupqueryattention/plugin-missing"),
    Case(
        "gqa-fp32-packed-rotary",
        gqa(F32, packed=True, rotary=True),
        "groupqueryattention/plugin-missing",
    ),
    Case("gqa-no-scale", gqa(F16, scale=0), "groupqueryattention/scale"),
    # --- MultiHeadAttention: one context output only
    Case("mha", mha()),
    Case("mha-fp16", mha(F16)),
    Case("mha-present", mha(present=True), "multiheadattention/extra-outputs"),
    # --- com.microsoft RotaryEmbedding (input, position_ids, cos, sin)
    Case("ms-rotary", ms_rotary()),
    Case("ms-rotary-fp16", ms_rotary(F16)),
    # 3-D input: num_heads=0 kills the parser process (SIGFPE), absent is an assertion
    Case("ms-rotary-heads0", ms_rotary(num_heads=0), "rotaryembedding/num-heads-zero"),
    Case("ms-rotary-heads0-fp16-kv1", ms_rotary(F16, 0, heads=1), "rotaryembedding/num-heads-zero"),
    Case("ms-rotary-no-heads", ms_rotary(num_heads=None), "rotaryembedding/num-heads"),
    Case("ms-rotary-4d-heads0", ms_rotary(num_heads=0, rank=4)),
    Case("ms-rotary-4d-no-heads", ms_rotary(num_heads=None, rank=4)),
    # --- com.microsoft Attention reaches the ONNX Attention importer (Q, K, V ranks differ)
    Case("ms-attention", ms_attention(), "attention/contrib-layout"),
    Case("ms-attention-fp16-no-bias", ms_attention(F16, bias=False), "attention/contrib-layout"),
    Case("mha-attention-bias", mha_attention_bias()),
    # --- normalizations of the builder's exports
    Case("sln-default", norm("SimplifiedLayerNormalization", ["x", "g"], domain="")),
    Case("sln-ms-fp16", norm("SimplifiedLayerNormalization", ["x", "g"], F16)),
    Case(
        "ssln-sum",
        norm("SkipSimplifiedLayerNormalization", ["x", "sk", "g"], outputs=("y", "", "", "sum")),
    ),
    Case("skip-ln", norm("SkipLayerNormalization", ["x", "sk", "g", "beta"]), "custom-domain-op"),
    # --- QMoE: the importer's conditions in its order; none met-all form parses
    Case("qmoe-no-alpha", qmoe(alpha=False), "qmoe/attribute"),
    Case("qmoe-no-block", qmoe(block=None), "qmoe/attribute"),
    Case("qmoe-silu", qmoe(activation="silu", block=32), "attribute-value"),
    Case("qmoe-block32", qmoe(block=32), "attribute-value"),
    Case("qmoe-not-normalized", qmoe(normalize=0), "attribute-value"),
    Case("qmoe-2d", qmoe(rank=2), "qmoe/rank"),
    Case("qmoe-all-met", qmoe(), "not-available"),
    Case("qmoe-all-met-fp32", qmoe(TP.FLOAT), "not-available"),
    # --- contrib ops with no importer
    Case("packed-attention", packed_attention(), "custom-domain-op"),
    Case("gather-block-quantized", gather_block_quantized(), "custom-domain-op"),
    # --- TensorRT's weight-only INT4 form (what dequantize-nbits writes)
    Case("int4-dq-matmul", int4_weights()),
    Case("int4-dq-matmul-fp16", int4_weights(F16)),
    Case("int4-dq-gather", int4_weights(op="Gather")),
    # negative scales (onnxruntime-genai's int4 weights have them): INT4 data only
    Case("int4-dq-negative-scales", int4_weights(sign=-1.0)),
    Case("int4-dq-alone-negative-scales", int4_weights(op="none", sign=-1.0)),
    Case(
        "int8-dq-negative-scales",
        int4_weights(op="none", qtype=TP.INT8, sign=-1.0),
        "dequantizelinear/scale-not-positive",
    ),
]


def cases():
    """(name, model) for every case."""
    return [(c.id, c.model) for c in CASES]
