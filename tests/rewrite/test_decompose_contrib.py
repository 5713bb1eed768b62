"""decompose-contrib: each com.microsoft op becomes standard ONNX computing what onnxruntime's
contrib kernel computes (the original runs in onnxruntime, so the comparison is against it)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from trtforge.analyzer.rewrite.registry import passes_removing
from trtforge.analyzer.rewrite.verify import make_inputs, run_model

HEAD = '<ir_version: 8, opset_import: ["" : {opset}, "com.microsoft" : 1]>'
INITS = (
    "<float[8] gamma = {1,2,3,4,5,6,7,8}, float[8] beta = {0,0,0,1,1,1,2,2}, "
    "float[8] bias = {1,1,1,1,0,0,0,0}, float[8,4] wb = {" + ",".join(["0.1", "-0.2"] * 16) + "}>"
)

CASES = {
    "Gelu": "y = com.microsoft.Gelu(x)",
    "FastGelu": "y = com.microsoft.FastGelu(x, bias)",
    "BiasGelu": "y = com.microsoft.BiasGelu(x, bias)",
    "QuickGelu": "y = com.microsoft.QuickGelu<alpha=1.5>(x)",
    "BiasAdd": "y = com.microsoft.BiasAdd(x, bias, s)",
    "LayerNormalization": "y = com.microsoft.LayerNormalization<axis=-1, epsilon=1e-5>(x, gamma, beta)",
    "SimplifiedLayerNormalization": "y = com.microsoft.SimplifiedLayerNormalization<axis=-1, epsilon=1e-6>(x, gamma)",
    "SkipLayerNormalization": "y, m, iv, sum = com.microsoft.SkipLayerNormalization<epsilon=1e-5>(x, s, gamma, beta, bias)",
    "SkipSimplifiedLayerNormalization": "y, m, iv, sum = com.microsoft.SkipSimplifiedLayerNormalization<epsilon=1e-6>(x, s, gamma)",
}


def model(body, opset=17, outputs="float[2,3,8] y"):
    return f"""{HEAD.format(opset=opset)}
    g (float[2,3,8] x, float[2,3,8] s) => ({outputs}) {INITS} {{
     {body}
    }}"""


@pytest.mark.parametrize("opset", [14, 17])
@pytest.mark.parametrize("op", sorted(CASES))
def test_decomposes_and_matches_onnxruntime(rw, op, opset):
    original = rw.parse(model(CASES[op], opset=opset))
    result = rw.apply(original, "decompose-contrib")
    assert result.passes["decompose-contrib"].applied == 1
    assert not any(n.domain == "com.microsoft" for n in result.proto.graph.node)
    assert all(n.name.startswith("decompose-contrib/") for n in result.proto.graph.node)
    if "LayerNormalization" in op and "Simplified" not in op:
        assert (rw.ops(result.proto)["LayerNormalization"] == 1) == (opset >= 17)
    if op in NUMPY:  # onnxruntime has no CPU kernel for these under com.microsoft
        feeds = make_inputs(original, seed=3)
        ours = run_model(result.proto, feeds)["y"]
        np.testing.assert_allclose(ours, NUMPY[op](feeds["x"], feeds["s"]), rtol=1e-4, atol=1e-4)
    else:
        rw.same(original, result.proto)
    assert not rw.apply(result.proto, "decompose-contrib").changed


GAMMA = np.arange(1, 9, dtype=np.float32)
BETA = np.array([0, 0, 0, 1, 1, 1, 2, 2], np.float32)
BIAS = np.array([1, 1, 1, 1, 0, 0, 0, 0], np.float32)


def _ln(x, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + eps) * GAMMA + BETA


NUMPY = {
    "BiasAdd": lambda x, s: x + BIAS + s,
    "LayerNormalization": lambda x, s: _ln(x),
    "SimplifiedLayerNormalization": lambda x, s: (
        x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6) * GAMMA
    ),
}


def test_default_domain_simplified_layernorm(rw):
    # onnxruntime's optimizer emits SimplifiedLayerNormalization in the default domain
    text = model(CASES["SimplifiedLayerNormalization"].replace("com.microsoft.", ""))
    original = onnx.parser.parse_model(text)
    result = rw.apply(original, "decompose-contrib")
    assert result.passes["decompose-contrib"].applied == 1
    rw.same(original, result.proto)


def test_fused_matmul(rw):
    original = rw.parse(f"""{HEAD.format(opset=17)}
    g (float[2,3,8] x, float[2,4,3] s) => (float[2,8,4] y) {INITS} {{
     y = com.microsoft.FusedMatMul<alpha=0.5, transA=1, transB=1>(x, s)
    }}""")
    result = rw.apply(original, "decompose-contrib")
    assert rw.ops(result.proto) == {"Transpose": 2, "MatMul": 1, "Mul": 1}
    rw.same(original, result.proto)


def test_skip_layernorm_sum_output_kept(rw):
    body = CASES["SkipLayerNormalization"]
    original = rw.parse(model(body, outputs="float[2,3,8] y, float[2,3,8] sum"))
    result = rw.apply(original, "decompose-contrib")
    assert result.passes["decompose-contrib"].applied == 1
    rw.same(original, result.proto)


def test_used_mean_output_is_skipped(rw):
    body = CASES["SkipLayerNormalization"]
    result = rw.apply(
        rw.parse(model(body, outputs="float[2,3,8] y, float[2,3,1] m")), "decompose-contrib"
    )
    assert not result.changed
    assert "output 1 ('m') is used" in result.passes["decompose-contrib"].skips[0].reason


def test_fused_matmul_batch_transpose_skipped(rw):
    original = rw.parse(f"""{HEAD.format(opset=17)}
    g (float[2,3,8] x, float[2,8,4] s) => (float[2,3,4] y) {INITS} {{
     y = com.microsoft.FusedMatMul<transBatchA=1>(x, s)
    }}""")
    result = rw.apply(original, "decompose-contrib")
    assert "transBatch" in result.passes["decompose-contrib"].skips[0].reason


def test_registry_names_the_pass_for_trt_check():
    for op in CASES:
        assert passes_removing("com.microsoft", op) == ["decompose-contrib"]
    assert passes_removing("com.microsoft", "FusedMatMul") == ["decompose-contrib"]
    assert passes_removing("com.microsoft", "Attention") == ["decompose-contrib"]
    assert passes_removing("com.microsoft", "MultiHeadAttention") == []
    assert passes_removing("", "Gelu") == []


def test_decomposed_layernorm_is_fused_in_the_same_run(rw):
    # below opset 17 the decomposition is basic ops; fuse-layernorm then makes it a plugin node
    original = rw.parse(model(CASES["LayerNormalization"], opset=14))
    result = rw.apply(original, "decompose-contrib", "fuse-layernorm")
    assert rw.ops(result.proto) == {"LayerNorm": 1}
    assert result.passes["fuse-layernorm"].applied == 1
    feeds = make_inputs(original, seed=3)
    ours = run_model(result.proto, feeds)["y"]
    np.testing.assert_allclose(ours, _ln(feeds["x"]), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "activation",
    [
        'activation="Relu"',
        'activation="LeakyRelu", activation_params=[0.2]',
        'activation="Clip", activation_params=[-0.5, 0.5]',
        'activation="Sigmoid"',
    ],
)
def test_fused_conv(rw, activation):
    weights = ",".join(f"{(i % 5) * 0.1 - 0.2:.2f}" for i in range(4 * 3 * 3 * 3))
    original = rw.parse(f"""{HEAD.format(opset=17)}
    g (float[1,3,6,6] x, float[1,4,6,6] z) => (float[1,4,6,6] y) <float[4,3,3,3] w = {{{weights}}}, float[4] b = {{0.1,0.2,0.3,0.4}}> {{
     y = com.microsoft.FusedConv<{activation}, pads=[1,1,1,1], kernel_shape=[3,3]>(x, w, b, z)
    }}""")
    result = rw.apply(original, "decompose-contrib")
    assert result.passes["decompose-contrib"].applied == 1
    assert rw.ops(result.proto)["Conv"] == 1
    rw.same(original, result.proto)


def test_fused_gemm(rw):
    original = rw.parse(f"""{HEAD.format(opset=17)}
    g (float[3,8] x) => (float[3,4] y) <float[8,4] w = {{{",".join(["0.1", "-0.3"] * 16)}}}, float[4] c = {{1,2,3,4}}> {{
     y = com.microsoft.FusedGemm<activation="LeakyRelu", activation_alpha=0.1, alpha=0.5>(x, w, c)
    }}""")
    result = rw.apply(original, "decompose-contrib")
    assert rw.ops(result.proto) == {"Gemm": 1, "LeakyRelu": 1}
    rw.same(original, result.proto)


def test_fused_conv_unknown_activation_skipped(rw):
    original = rw.parse(f"""{HEAD.format(opset=17)}
    g (float[1,3,6,6] x, float[4,3,3,3] w) => (float[1,4,4,4] y) {{
     y = com.microsoft.FusedConv<activation="Swish">(x, w)
    }}""")
    result = rw.apply(original, "decompose-contrib")
    assert "activation 'Swish'" in result.passes["decompose-contrib"].skips[0].reason


def _table(name: str, rows: int) -> str:
    values = ",".join(f"{((i * 7) % 13 - 6) / 10:g}" for i in range(rows * 8))
    return f"float[{rows},8] {name} = {{{values}}}"


def embed_model(outputs: str, body: str) -> str:
    tables = f"{_table('word', 6)}, {_table('pos', 5)}, {_table('seg', 4)}"
    return f"""{HEAD.format(opset=17)}
    g (int32[2,3] ids, int32[2,3] sids, int32[2,3] pids) => ({outputs})
    <{tables}, float[8] gamma = {{1,2,3,4,5,6,7,8}}, float[8] beta = {{0,0,0,1,1,1,2,2}}> {{
     {body}
    }}"""


EMBED = {
    "positions-implicit": "y, mi = com.microsoft.EmbedLayerNormalization<epsilon=1e-5>(ids, , word, pos, , gamma, beta)",
    "segments": "y, mi = com.microsoft.EmbedLayerNormalization<epsilon=1e-5>(ids, sids, word, pos, seg, gamma, beta)",
    "position-ids": "y, mi = com.microsoft.EmbedLayerNormalization<epsilon=1e-5>(ids, , word, pos, , gamma, beta, , pids)",
    "sum-output": "y, mi, sum = com.microsoft.EmbedLayerNormalization<epsilon=1e-5>(ids, sids, word, pos, seg, gamma, beta)",
}


@pytest.mark.parametrize("case", sorted(EMBED))
def test_embed_layernorm_matches_onnxruntime(rw, case):
    """onnxruntime's fused BERT embeddings: word (+ position, + segment) lookups, summed,
    LayerNorm; output 2 (the sum before the norm) kept when used."""
    outputs = "float[2,3,8] y" + (", float[2,3,8] sum" if case == "sum-output" else "")
    original = rw.parse(embed_model(outputs, EMBED[case]))
    result = rw.apply(original, "decompose-contrib")
    assert result.passes["decompose-contrib"].applied == 1
    assert not any(n.domain == "com.microsoft" for n in result.proto.graph.node)
    assert rw.ops(result.proto)["Gather"] >= 2
    rw.same(original, result.proto)


def test_embed_layernorm_mask_index_without_a_mask_is_skipped(rw):
    body = "y, mi = com.microsoft.EmbedLayerNormalization<epsilon=1e-5>(ids, , word, pos, , gamma, beta)"
    original = rw.parse(embed_model("float[2,3,8] y, int32[2] mi", body))
    result = rw.apply(original, "decompose-contrib")
    assert not result.changed
    assert "no mask to count" in result.passes["decompose-contrib"].skips[0].reason


def _weights(name: str, rows: int, cols: int) -> str:
    values = ",".join(f"{((i * 5) % 11 - 5) / 10:g}" for i in range(rows * cols))
    return f"float[{rows},{cols}] {name} = {{{values}}}"


def attention_model(
    body: str, outputs: str = "float[2,3,8] y", extra_inputs: str = "", opset: int = 17
) -> str:
    bias = ",".join(f"{i / 50:g}" for i in range(24))
    return f"""{HEAD.format(opset=opset)}
    g (float[2,3,8] x, int32[2,3] mask{extra_inputs}) => ({outputs})
    <{_weights("w", 8, 24)}, float[24] b = {{{bias}}}> {{
     {body}
    }}"""


ATTENTION = {
    "no-mask": "y = com.microsoft.Attention<num_heads=2>(x, w, b)",
    "mask-2d": "y = com.microsoft.Attention<num_heads=2>(x, w, b, mask)",
    "causal": "y = com.microsoft.Attention<num_heads=2, unidirectional=1>(x, w, b)",
    "scale-filter": "y = com.microsoft.Attention<num_heads=4, scale=0.3, mask_filter_value=-50.0>(x, w, b, mask)",
    "count-1d": "n = ReduceSum<keepdims=0>(mask, one) y = com.microsoft.Attention<num_heads=2>(x, w, b, n)",
}


@pytest.mark.parametrize("opset", [11, 17])
@pytest.mark.parametrize("case", sorted(ATTENTION))
def test_attention_matches_onnxruntime(rw, case, opset):
    """onnxruntime's fused self-attention becomes standard ops computing what its kernel
    computes: key-padding masks (2-D 1/0, or a 1-D count of attended tokens), causal masks,
    explicit scale and mask_filter_value."""
    body = ATTENTION[case]
    if "one)" in body:
        if opset < 13:
            body = body.replace(
                "ReduceSum<keepdims=0>(mask, one)", "ReduceSum<keepdims=0, axes=[1]>(mask)"
            )
        else:
            body = "one = Constant<value=int64[1] {1}>() " + body
    original = rw.parse(attention_model(body, opset=opset))
    result = rw.apply(original, "decompose-contrib")
    assert result.passes["decompose-contrib"].applied == 1, result.passes["decompose-contrib"].skips
    assert not any(n.domain == "com.microsoft" for n in result.proto.graph.node)
    assert rw.ops(result.proto)["Softmax"] == 1
    rw.same(original, result.proto)


def test_bert_embeddings_feed_attention_their_mask_index(rw):
    """The onnxruntime-optimized BERT pattern: EmbedLayerNormalization's mask_index (tokens
    attended per sequence) is Attention's 1-D mask; both decompose, in one run."""
    tables = f"{_table('word', 6)}, {_table('pos', 5)}"
    weights = _weights("w", 8, 24)
    original = rw.parse(f"""{HEAD.format(opset=17)}
    g (int32[2,3] ids, int32[2,3] mask) => (float[2,3,8] y)
    <{tables}, {weights}, float[8] gamma = {{1,2,3,4,5,6,7,8}}, float[8] beta = {{0,0,0,1,1,1,2,2}}> {{
     e, mi = com.microsoft.EmbedLayerNormalization<epsilon=1e-5>(ids, , word, pos, , gamma, beta, mask)
     y = com.microsoft.Attention<num_heads=2>(e, w, , mi)
    }}""")
    result = rw.apply(original, "decompose-contrib")
    assert result.passes["decompose-contrib"].applied == 2
    assert not any(n.domain == "com.microsoft" for n in result.proto.graph.node)
    rw.same(original, result.proto)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("y = com.microsoft.Attention<num_heads=2, do_rotary=1>(x, w, b)", "do_rotary"),
        ("y = com.microsoft.Attention<num_heads=5>(x, w, b)", "num_heads"),
        ("y = com.microsoft.Attention<num_heads=2>(x, w, b, m3)", "rank 3"),
    ],
)
def test_attention_outside_the_decomposition_is_skipped(rw, body, reason):
    original = rw.parse(attention_model(body, extra_inputs=", int32[2,3,3] m3"))
    result = rw.apply(original, "decompose-contrib")
    assert not result.changed
    assert reason in result.passes["decompose-contrib"].skips[0].reason


def test_a_long_chain_of_contrib_nodes_is_decomposed_whole(rw):
    """ONNX's inference types no contrib op's output; each node's check looked for a float
    type up a chain of producers (32 deep), which the decomposed nodes before it made
    longer, and `--auto` stopped with most of the chain left (MobileViT optimized by
    onnxruntime: 18 → 9). The decomposed outputs now keep their data's type."""
    from onnx import TensorProto, helper

    count = 60
    nodes = [
        helper.make_node("FastGelu", [f"t{i}"], [f"t{i + 1}"], domain="com.microsoft", name=f"g{i}")
        for i in range(count)
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info(f"t{count}", TensorProto.FLOAT, [2, 8])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
    )
    result = rw.apply(model, "decompose-contrib", target="rtx-1")
    outcome = result.passes["decompose-contrib"]
    assert outcome.applied == count and not outcome.skips, outcome.skips[:2]
    assert "FastGelu" not in rw.ops(result.proto)
    rw.same(model, result.proto)
