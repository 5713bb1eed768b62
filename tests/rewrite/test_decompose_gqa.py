"""decompose-gqa against onnxruntime's CPU GroupQueryAttention / RotaryEmbedding kernels."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from _gqa_models import (
    GQAConfig,
    gqa_feeds,
    gqa_model,
    prompt_feeds,
    rotary_model,
    valid_parts,
)
from onnx import TensorProto, helper

from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
from trtforge.analyzer.targets import parse_target

#: float32 results agree to this (max abs), float16 to the second value
ATOL = {TensorProto.FLOAT: 1e-5, TensorProto.FLOAT16: 4e-3}


def run(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    return session.run(None, {k: v for k, v in feeds.items() if k in names})


def decompose(model, target="rtx-1", **options):
    result = rewrite_model(
        model, ["decompose-gqa"], RewriteOptions(parse_target(target), **options)
    )
    onnx.checker.check_model(result.proto, full_check=True)
    return result


def steps(cfg: GQAConfig):
    """(feeds, totals, seq) of a right-padded batch-2 prompt with an empty past, a batch-2
    decode step whose entries hold different past lengths, and a batch-1 chunk after a past."""
    yield (*prompt_feeds(cfg, [5, 3]), 5)
    if cfg.past:
        yield (*gqa_feeds(cfg, [6, 3], 1), 1)
        yield (*gqa_feeds(cfg, [4], 3), 3)


def assert_matches(cfg: GQAConfig, **options) -> onnx.ModelProto:
    model = gqa_model(cfg)
    result = decompose(model, **options)
    assert result.passes["decompose-gqa"].applied == 1, result.passes
    assert not any(n.domain == "com.microsoft" for n in result.proto.graph.node)
    for feeds, totals, seq in steps(cfg):
        expected = valid_parts(run(model, feeds), totals, seq)
        got = valid_parts(run(result.proto, feeds), totals, seq)
        for want, have in zip(expected, got, strict=True):
            assert want.shape == have.shape
            np.testing.assert_allclose(
                have.astype(np.float32), want.astype(np.float32), atol=ATOL[cfg.dtype], rtol=0
            )
    return result.proto


VARIANTS = {
    "mha": GQAConfig(kv_heads=4),
    "gqa2": GQAConfig(kv_heads=2),
    "gqa4": GQAConfig(kv_heads=1),
    "packed": GQAConfig(packed=True),
    "packed-gqa4": GQAConfig(packed=True, kv_heads=1),
    "rotary": GQAConfig(head=16, rotary=True),
    "rotary-interleaved": GQAConfig(head=16, rotary=True, interleaved=True),
    "rotary-partial-packed": GQAConfig(head=32, rotary=True, rotary_dim=16, packed=True),
    "rotary-partial-interleaved": GQAConfig(head=32, rotary=True, rotary_dim=16, interleaved=True),
    "softcap": GQAConfig(softcap=2.0),
    "local-window": GQAConfig(window=2),
    "smooth-softmax": GQAConfig(smooth=True),
    "head-sink": GQAConfig(head_sink=True),
    "scale": GQAConfig(scale=0.3),
    "not-causal": GQAConfig(causal=False),
    "no-past": GQAConfig(past=False),
    "everything": GQAConfig(
        head=16, kv_heads=1, packed=True, rotary=True, softcap=3.0, window=3, smooth=True
    ),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_matches_onnxruntime(name):
    assert_matches(VARIANTS[name])


def test_float16_matches_onnxruntime():
    assert_matches(GQAConfig(head=16, rotary=True, dtype=TensorProto.FLOAT16))


@pytest.mark.parametrize("dtype", [TensorProto.FLOAT, TensorProto.FLOAT16])
def test_onnx_attention_impl_matches_onnxruntime(dtype):
    cfg = GQAConfig(head=16, rotary=True, softcap=1.5, window=3, opset=23, dtype=dtype)
    proto = assert_matches(cfg, gqa_impl="onnx-attention")
    ops = {n.op_type for n in proto.graph.node}
    assert "Attention" in ops and "Softmax" not in ops


def test_auto_impl_picks_attention_only_where_rtx_builds_it():
    fp16_64 = GQAConfig(head=64, opset=23, dtype=TensorProto.FLOAT16)

    def core(cfg, target):
        ops = {n.op_type for n in decompose(gqa_model(cfg), target=target).proto.graph.node}
        return "Attention" if "Attention" in ops else "Softmax"

    assert core(fp16_64, "rtx-1") == "Attention"
    assert core(fp16_64, "trt-10") == "Softmax"  # not probed
    assert core(dataclasses.replace(fp16_64, dtype=TensorProto.FLOAT), "rtx-1") == "Softmax"
    assert core(dataclasses.replace(fp16_64, head=8), "rtx-1") == "Softmax"
    assert core(dataclasses.replace(fp16_64, opset=21), "rtx-1") == "Softmax"
    assert core(dataclasses.replace(fp16_64, smooth=True), "rtx-1") == "Softmax"


def test_onnx_attention_converts_a_model_below_opset_23():
    proto = assert_matches(GQAConfig(opset=21), gqa_impl="onnx-attention")
    assert {o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")} == {23}
    assert "Attention" in {n.op_type for n in proto.graph.node}


def _with_input(model: onnx.ModelProto, index: int, name: str, info) -> onnx.ModelProto:
    node = model.graph.node[0]
    while len(node.input) <= index:
        node.input.append("")
    node.input[index] = name
    model.graph.input.append(info)
    return model


def _drop_input(model: onnx.ModelProto, index: int) -> None:
    model.graph.node[0].input[index] = ""


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda m: _drop_input(m, 5), "seqlens_k or total_sequence_length is missing"),
        (
            lambda m: _with_input(
                m,
                9,
                "position_ids",
                helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "seq"]),
            ),
            "position_ids",
        ),
        (
            lambda m: m.graph.node[0].attribute.append(helper.make_attribute("qk_output", 1)),
            "qk_output",
        ),
        (
            lambda m: m.graph.node[0].attribute.append(
                helper.make_attribute("sliding_window_cache", 1)
            ),
            "windowed_kv_cache=false",
        ),
    ],
)
def test_unreproducible_inputs_are_skipped_with_a_reason(edit, reason):
    model = gqa_model(GQAConfig())
    edit(model)
    result = rewrite_model(model, ["decompose-gqa"], RewriteOptions(parse_target("rtx-1")))
    (skip,) = result.passes["decompose-gqa"].skips
    assert reason in skip.reason
    assert result.passes["decompose-gqa"].applied == 0
    assert any(n.op_type == "GroupQueryAttention" for n in result.proto.graph.node)


def test_idempotent_and_nothing_to_do():
    once = decompose(gqa_model(GQAConfig(rotary=True, head=16))).proto
    again = rewrite_model(once, ["decompose-gqa"], RewriteOptions(parse_target("rtx-1")))
    assert again.passes["decompose-gqa"].applied == 0 and not again.changed
    assert [n.name for n in again.proto.graph.node] == [n.name for n in once.graph.node]


@pytest.mark.parametrize(
    ("shape", "rotary_dim", "interleaved", "offset"),
    [
        (["batch", "seq", 64], 16, False, False),
        (["batch", "seq", 64], 16, True, True),
        (["batch", "seq", 64], 8, False, True),
        (["batch", 4, "seq", 16], 16, False, False),
        (["batch", 4, "seq", 16], 8, True, False),
    ],
)
def test_rotary_embedding_matches_onnxruntime(shape, rotary_dim, interleaved, offset):
    model = rotary_model(shape, 4, rotary_dim, interleaved, offset)
    kept = decompose(model, target="rtx-1")  # TensorRT-RTX imports it
    assert "imports com.microsoft RotaryEmbedding" in kept.passes["decompose-gqa"].skips[0].reason
    result = decompose(model, target="trt-10")
    assert result.passes["decompose-gqa"].applied == 1
    assert not any(n.domain == "com.microsoft" for n in result.proto.graph.node)
    rng = np.random.default_rng(3)
    x = rng.standard_normal([2 if d == "batch" else 5 if d == "seq" else d for d in shape])
    positions = np.array([3]) if offset else np.array([[0, 1, 2, 3, 4], [7, 8, 9, 10, 11]])
    feeds = {"x": x.astype(np.float32), "position_ids": positions.astype(np.int64)}
    np.testing.assert_allclose(run(result.proto, feeds)[0], run(model, feeds)[0], atol=1e-5)


def test_trt_check_names_the_pass():
    from trtforge.analyzer.rewrite.registry import passes_removing

    assert "decompose-gqa" in passes_removing("com.microsoft", "GroupQueryAttention")
    assert "decompose-gqa" in passes_removing("com.microsoft", "RotaryEmbedding")


@pytest.mark.parametrize("interleaved", [False, True])
def test_rotary_embedding_heads_zero_is_decomposed_for_rtx(interleaved):
    """num_heads=0 on a 3-D input (onnxruntime-genai's DML and fp16 CPU exports): onnxruntime
    takes the head size from the cache (2 × its width); TensorRT-RTX's importer divides by
    num_heads and dies, so the node is decomposed for rtx-1 too, not kept."""
    from trtforge.analyzer import check

    model = rotary_model(["batch", "seq", 64], 4, 16, interleaved, False)
    attr = next(a for a in model.graph.node[0].attribute if a.name == "num_heads")
    attr.i = 0  # 4 heads of 16 from the 8-wide cache
    codes = [f.code for f in check(model, target="rtx-1", backend="static").nodes[0].errors]
    assert codes == ["rotaryembedding/num-heads-zero"]
    result = decompose(model, target="rtx-1")
    assert result.passes["decompose-gqa"].applied == 1
    assert check(result.proto, target="rtx-1", backend="static").supported
    rng = np.random.default_rng(4)
    feeds = {
        "x": rng.standard_normal((2, 5, 64)).astype(np.float32),
        "position_ids": np.array([[0, 1, 2, 3, 4], [7, 8, 9, 10, 11]], np.int64),
    }
    np.testing.assert_allclose(run(result.proto, feeds)[0], run(model, feeds)[0], atol=1e-5)


def _with_qk_norm(cfg: GQAConfig, eps: float) -> tuple[onnx.ModelProto, onnx.ModelProto]:
    """(GQA with q_norm_weight/k_norm_weight, the same computed with explicit per-head
    SimplifiedLayerNormalization before a plain GQA). onnxruntime has no CPU kernel for the
    fused form, so the second is the reference."""
    np_dtype = helper.tensor_dtype_to_np_dtype(cfg.dtype)
    weights = {
        "q_norm_w": np.linspace(0.5, 1.5, cfg.head).astype(np_dtype),
        "k_norm_w": np.linspace(1.5, 0.5, cfg.head).astype(np_dtype),
    }
    fused = gqa_model(cfg)
    node = fused.graph.node[0]
    while len(node.input) < 14:
        node.input.append("")
    node.input.extend(["q_norm_w", "k_norm_w"])
    node.attribute.append(helper.make_attribute("qk_norm_epsilon", eps))
    fused.graph.initializer.extend(
        helper.make_tensor(k, cfg.dtype, v.shape, v.tolist()) for k, v in weights.items()
    )
    ref = gqa_model(cfg)
    graph = ref.graph
    graph.initializer.extend(
        helper.make_tensor(k, cfg.dtype, v.shape, v.tolist()) for k, v in weights.items()
    )
    graph.initializer.extend(
        [
            helper.make_tensor("to_heads", TensorProto.INT64, [4], [0, 0, -1, cfg.head]),
            helper.make_tensor("to_hidden", TensorProto.INT64, [3], [0, 0, -1]),
        ]
    )
    pre = []
    for name, weight in (("query", "q_norm_w"), ("key", "k_norm_w")):
        pre += [
            helper.make_node("Reshape", [name, "to_heads"], [f"{name}_4d"]),
            helper.make_node(
                "SimplifiedLayerNormalization",
                [f"{name}_4d", weight],
                [f"{name}_n4d"],  # onnxruntime registers it in the default domain
                axis=-1,
                epsilon=eps,
            ),
            helper.make_node("Reshape", [f"{name}_n4d", "to_hidden"], [f"{name}_n"]),
        ]
    gqa = graph.node[0]
    gqa.input[0], gqa.input[1] = "query_n", "key_n"
    nodes = pre + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return fused, ref


@pytest.mark.parametrize("dtype", [TensorProto.FLOAT, TensorProto.FLOAT16])
def test_qk_norm_weights_match_explicit_norms(dtype):
    """q_norm_weight/k_norm_weight (onnxruntime-genai's CUDA exports of Qwen3): an RMSNorm
    over each head of Q and K before the rotary, as the explicit norms compute it."""
    cfg = GQAConfig(heads=4, kv_heads=2, head=16, rotary=True, dtype=dtype)
    fused, ref = _with_qk_norm(cfg, 1e-6)
    result = decompose(fused)
    assert result.passes["decompose-gqa"].applied == 1, result.passes
    assert not any(n.domain == "com.microsoft" for n in result.proto.graph.node)
    for feeds, totals, seq in steps(cfg):
        expected = valid_parts(run(ref, feeds), totals, seq)
        got = valid_parts(run(result.proto, feeds), totals, seq)
        for want, have in zip(expected, got, strict=True):
            np.testing.assert_allclose(
                have.astype(np.float32), want.astype(np.float32), atol=ATOL[dtype], rtol=0
            )


def test_only_one_qk_norm_weight_is_skipped():
    fused, _ = _with_qk_norm(GQAConfig(head=16, rotary=True), 1e-6)
    fused.graph.node[0].input[15] = ""
    result = decompose(fused)
    assert (
        "only one of q_norm_weight/k_norm_weight" in result.passes["decompose-gqa"].skips[0].reason
    )


def _float_io(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with float32 inputs/outputs cast to and from its bfloat16 ones (onnxruntime
    takes no bfloat16 feeds here)."""
    graph = model.graph
    bf16 = TensorProto.BFLOAT16
    casts_in, casts_out = [], []
    for value in graph.input:
        if value.type.tensor_type.elem_type == bf16:
            inner = value.name + "_bf16"
            for node in graph.node:
                node.input[:] = [inner if i == value.name else i for i in node.input]
            casts_in.append(helper.make_node("Cast", [value.name], [inner], to=bf16))
            value.type.tensor_type.elem_type = TensorProto.FLOAT
    for value in graph.output:
        if value.type.tensor_type.elem_type == bf16:
            inner = value.name + "_bf16"
            for node in graph.node:
                node.output[:] = [inner if o == value.name else o for o in node.output]
            casts_out.append(helper.make_node("Cast", [inner], [value.name], to=TensorProto.FLOAT))
            value.type.tensor_type.elem_type = TensorProto.FLOAT
    nodes = casts_in + list(graph.node) + casts_out
    del graph.node[:]
    graph.node.extend(nodes)
    return model


def test_bfloat16_is_computed_in_float32():
    """onnxruntime-genai's bf16 CUDA exports: the node is decomposed between Casts and computes
    what the float32 node computes on the bfloat16 values (onnxruntime has no bfloat16 CPU
    kernel for GroupQueryAttention, so the float32 node on rounded inputs is the reference)."""
    import ml_dtypes

    cfg = GQAConfig(heads=4, kv_heads=2, head=16, rotary=True, dtype=TensorProto.BFLOAT16)
    result = decompose(gqa_model(cfg))
    assert result.passes["decompose-gqa"].applied == 1, result.passes
    assert not any(n.domain == "com.microsoft" for n in result.proto.graph.node)
    wide = _float_io(result.proto)
    ref_cfg = dataclasses.replace(cfg, dtype=TensorProto.FLOAT)
    reference = gqa_model(ref_cfg)
    for init in reference.graph.initializer:  # the rotary caches as bfloat16 holds them
        rounded = onnx.numpy_helper.to_array(init).astype(ml_dtypes.bfloat16).astype(np.float32)
        init.CopyFrom(onnx.numpy_helper.from_array(rounded, init.name))
    for feeds, totals, seq in steps(ref_cfg):
        feeds = {
            k: v.astype(ml_dtypes.bfloat16).astype(np.float32) if v.dtype == np.float32 else v
            for k, v in feeds.items()
        }
        expected = valid_parts(run(reference, feeds), totals, seq)
        got = valid_parts(run(wide, feeds), totals, seq)
        for want, have in zip(expected, got, strict=True):
            np.testing.assert_allclose(have, want, atol=3e-2, rtol=1e-2)
