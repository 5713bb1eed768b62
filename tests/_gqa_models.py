"""Small GroupQueryAttention / RotaryEmbedding graphs built with onnx.helper, and feeds that
follow onnxruntime's KV-cache contract (prefill with an empty past, decode with a past, batch
entries of different lengths)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper

MAX_POSITIONS = 64


@dataclass(frozen=True)
class GQAConfig:
    heads: int = 4
    kv_heads: int = 2
    head: int = 8
    packed: bool = False
    past: bool = True
    rotary: bool = False
    interleaved: bool = False
    rotary_dim: int = 0  # 0: the whole head
    softcap: float = 0.0
    window: int = -1
    smooth: bool = False
    head_sink: bool = False
    scale: float = 0.0
    causal: bool = True
    dtype: int = TensorProto.FLOAT
    opset: int = 21


def gqa_model(cfg: GQAConfig) -> onnx.ModelProto:
    """One GroupQueryAttention node with named dynamic dims."""
    elem = cfg.dtype
    np_dtype = helper.tensor_dtype_to_np_dtype(elem)
    hidden, kv_hidden = cfg.heads * cfg.head, cfg.kv_heads * cfg.head
    inputs, names, inits = [], [], []
    if cfg.packed:
        width = hidden + 2 * kv_hidden
        inputs.append(helper.make_tensor_value_info("query", elem, ["batch", "seq", width]))
        names += ["query", "", ""]
    else:
        inputs += [
            helper.make_tensor_value_info("query", elem, ["batch", "seq", hidden]),
            helper.make_tensor_value_info("key", elem, ["batch", "seq", kv_hidden]),
            helper.make_tensor_value_info("value", elem, ["batch", "seq", kv_hidden]),
        ]
        names += ["query", "key", "value"]
    if cfg.past:
        for name in ("past_key", "past_value"):
            shape = ["batch", cfg.kv_heads, "past", cfg.head]
            inputs.append(helper.make_tensor_value_info(name, elem, shape))
        names += ["past_key", "past_value"]
    else:
        names += ["", ""]
    inputs += [
        helper.make_tensor_value_info("seqlens_k", TensorProto.INT32, ["batch"]),
        helper.make_tensor_value_info("total_sequence_length", TensorProto.INT32, []),
    ]
    names += ["seqlens_k", "total_sequence_length"]
    attrs = {"num_heads": cfg.heads, "kv_num_heads": cfg.kv_heads}
    if cfg.rotary:
        rotary_dim = cfg.rotary_dim or cfg.head
        cos, sin = rotary_tables(rotary_dim, np_dtype)
        inits += [
            helper.make_tensor("cos_cache", elem, cos.shape, cos.flatten().tolist()),
            helper.make_tensor("sin_cache", elem, sin.shape, sin.flatten().tolist()),
        ]
        names += ["cos_cache", "sin_cache"]
        attrs.update(do_rotary=1, rotary_interleaved=int(cfg.interleaved))
    if cfg.head_sink:
        sink = np.linspace(-1.0, 1.5, cfg.heads).astype(np_dtype)
        while len(names) < 11:
            names.append("")
        inits.append(helper.make_tensor("head_sink", elem, sink.shape, sink.tolist()))
        names.append("head_sink")
    if cfg.softcap:
        attrs["softcap"] = cfg.softcap
    if cfg.window > 0:
        attrs["local_window_size"] = cfg.window
    if cfg.smooth:
        attrs["smooth_softmax"] = 1
    if cfg.scale:
        attrs["scale"] = cfg.scale
    if not cfg.causal:
        attrs["causal"] = 0
    while names and names[-1] == "":
        names.pop()
    node = helper.make_node(
        "GroupQueryAttention",
        names,
        ["output", "present_key", "present_value"],
        domain="com.microsoft",
        name="gqa",
        **attrs,
    )
    outputs = [helper.make_tensor_value_info("output", elem, ["batch", "seq", hidden])] + [
        helper.make_tensor_value_info(name, elem, ["batch", cfg.kv_heads, "present", cfg.head])
        for name in ("present_key", "present_value")
    ]
    graph = helper.make_graph([node], "gqa", inputs, outputs, initializer=inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", cfg.opset), helper.make_opsetid("com.microsoft", 1)],
    )
    model.ir_version = 10
    return model


def rotary_tables(rotary_dim: int, dtype=np.float32):
    """cos/sin caches (MAX_POSITIONS, rotary_dim/2) as onnxruntime-genai builds them."""
    inv = 1.0 / (10000 ** (np.arange(0, rotary_dim, 2, dtype=np.float64) / rotary_dim))
    angles = np.outer(np.arange(MAX_POSITIONS, dtype=np.float64), inv)
    return np.cos(angles).astype(dtype), np.sin(angles).astype(dtype)


def gqa_feeds(cfg: GQAConfig, past_lengths, seq: int, past_dim: int | None = None, seed=0):
    """Feeds for one step: entry b held past_lengths[b] tokens and adds `seq` (a prompt when
    every past length is 0: then entry b's valid prompt length is given by `seq` minus padding,
    see `prompt_feeds`)."""
    rng = np.random.default_rng(seed)
    np_dtype = helper.tensor_dtype_to_np_dtype(cfg.dtype)
    batch = len(past_lengths)
    hidden, kv_hidden = cfg.heads * cfg.head, cfg.kv_heads * cfg.head
    feeds = {}
    if cfg.packed:
        feeds["query"] = rng.standard_normal((batch, seq, hidden + 2 * kv_hidden))
    else:
        feeds["query"] = rng.standard_normal((batch, seq, hidden))
        feeds["key"] = rng.standard_normal((batch, seq, kv_hidden))
        feeds["value"] = rng.standard_normal((batch, seq, kv_hidden))
    past_dim = max(past_lengths) if past_dim is None else past_dim
    if cfg.past:
        for name in ("past_key", "past_value"):
            feeds[name] = rng.standard_normal((batch, cfg.kv_heads, past_dim, cfg.head))
    feeds = {k: v.astype(np_dtype) for k, v in feeds.items()}
    totals = [p + seq for p in past_lengths]
    feeds["seqlens_k"] = np.array([t - 1 for t in totals], np.int32)
    feeds["total_sequence_length"] = np.array(max(totals), np.int32)
    return feeds, totals


def prompt_feeds(cfg: GQAConfig, lengths, seed=0):
    """A right-padded prompt: entry b has lengths[b] valid tokens of max(lengths)."""
    seq = max(lengths)
    feeds, _ = gqa_feeds(cfg, [0] * len(lengths), seq, past_dim=0, seed=seed)
    feeds["seqlens_k"] = np.array([n - 1 for n in lengths], np.int32)
    feeds["total_sequence_length"] = np.array(seq, np.int32)
    return feeds, list(lengths)


def valid_parts(outputs, totals, seq: int):
    """The output rows and cache rows onnxruntime specifies: query rows of real tokens, cache
    rows below each entry's total length."""
    out, present_k, present_v = outputs
    parts = []
    for b, total in enumerate(totals):
        past = max(total - seq, 0)
        rows = total - past  # valid query rows of this entry
        parts += [out[b, :rows], present_k[b, :, :total], present_v[b, :, :total]]
    return parts


def rotary_model(shape, heads: int, rotary_dim: int, interleaved: bool, offset: bool):
    """One RotaryEmbedding node: x (B, S, N·H) or (B, N, S, H); position_ids (B, S), or one
    offset when `offset`."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    pos_shape = [1] if offset else ["batch", "seq"]
    pos = helper.make_tensor_value_info("position_ids", TensorProto.INT64, pos_shape)
    cos, sin = rotary_tables(rotary_dim)
    inits = [
        helper.make_tensor("cos_cache", TensorProto.FLOAT, cos.shape, cos.flatten().tolist()),
        helper.make_tensor("sin_cache", TensorProto.FLOAT, sin.shape, sin.flatten().tolist()),
    ]
    attrs = {"interleaved": int(interleaved), "num_heads": heads}
    if rotary_dim != shape[-1] // (heads if len(shape) == 3 else 1):
        attrs["rotary_embedding_dim"] = rotary_dim
    node = helper.make_node(
        "RotaryEmbedding",
        ["x", "position_ids", "cos_cache", "sin_cache"],
        ["y"],
        domain="com.microsoft",
        name="rope",
        **attrs,
    )
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)
    graph = helper.make_graph([node], "rope", [x, pos], [y], initializer=inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)],
    )
    model.ir_version = 10
    return model


def decoder_model(
    heads: int = 4,
    kv_heads: int = 2,
    head: int = 16,
    vocab: int = 32,
    dtype: int = TensorProto.FLOAT,
    rotary: bool = True,
    window: int | None = None,
) -> onnx.ModelProto:
    """A one-layer decoder shaped like onnxruntime-genai's exports: input_ids, attention_mask,
    past_key_values.0.key/value with the dims batch_size, sequence_length,
    past_sequence_length and total_sequence_length; seqlens_k and total_sequence_length derived
    from the mask as the builder does; logits and present.0.key/value out. `window`: a
    sliding-window layer as genai writes Gemma 2's (`sliding_window_cache`, a cache of the
    window's length, dim past_sliding_length)."""
    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    rng = np.random.default_rng(0)
    hidden, kv_hidden = heads * head, kv_heads * head

    def init(name, shape):
        data = (rng.standard_normal(shape) * 0.2).astype(np_dtype)
        return onnx.numpy_helper.from_array(data, name)

    inits = [
        init("embed", (vocab, hidden)),
        init("w_q", (hidden, hidden)),
        init("w_k", (hidden, kv_hidden)),
        init("w_v", (hidden, kv_hidden)),
        init("w_o", (hidden, hidden)),
        init("lm_head", (hidden, vocab)),
        onnx.numpy_helper.from_array(np.array([1], np.int64), "one"),
        onnx.numpy_helper.from_array(np.array(1, np.int64), "one_scalar"),
    ]
    nodes = [
        helper.make_node("Gather", ["embed", "input_ids"], ["h"]),
        helper.make_node("MatMul", ["h", "w_q"], ["q"]),
        helper.make_node("MatMul", ["h", "w_k"], ["k"]),
        helper.make_node("MatMul", ["h", "w_v"], ["v"]),
        helper.make_node("ReduceSum", ["attention_mask", "one"], ["mask_sum"], keepdims=0),
        helper.make_node("Sub", ["mask_sum", "one_scalar"], ["seqlens_64"]),
        helper.make_node("Cast", ["seqlens_64"], ["seqlens_k"], to=TensorProto.INT32),
        helper.make_node("Shape", ["attention_mask"], ["mask_shape"]),
        helper.make_node("Gather", ["mask_shape", "one_scalar"], ["total_64"], axis=0),
        helper.make_node("Cast", ["total_64"], ["total_len"], to=TensorProto.INT32),
    ]
    gqa_inputs = ["q", "k", "v", "past_key_values.0.key", "past_key_values.0.value"]
    gqa_inputs += ["seqlens_k", "total_len"]
    attrs = {"num_heads": heads, "kv_num_heads": kv_heads}
    if window is not None:
        attrs.update(local_window_size=window, sliding_window_cache=1)
    if rotary:
        cos, sin = rotary_tables(head, np_dtype)
        inits += [
            onnx.numpy_helper.from_array(cos, "cos_cache"),
            onnx.numpy_helper.from_array(sin, "sin_cache"),
        ]
        gqa_inputs += ["cos_cache", "sin_cache"]
        attrs["do_rotary"] = 1
    nodes += [
        helper.make_node(
            "GroupQueryAttention",
            gqa_inputs,
            ["attn", "present.0.key", "present.0.value"],
            domain="com.microsoft",
            name="layers.0/attn/GroupQueryAttention",
            **attrs,
        ),
        helper.make_node("MatMul", ["attn", "w_o"], ["o"]),
        helper.make_node("Add", ["o", "h"], ["res"]),
        helper.make_node("MatMul", ["res", "lm_head"], ["logits"]),
    ]
    kv = ["batch_size", kv_heads, "past_sequence_length", head]
    present = ["batch_size", kv_heads, "total_sequence_length", head]
    if window is not None:
        kv = present = ["batch_size", kv_heads, "past_sliding_length", head]
    inputs = [
        helper.make_tensor_value_info(
            "input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]
        ),
        helper.make_tensor_value_info(
            "attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]
        ),
        helper.make_tensor_value_info("past_key_values.0.key", dtype, kv),
        helper.make_tensor_value_info("past_key_values.0.value", dtype, kv),
    ]
    outputs = [
        helper.make_tensor_value_info("logits", dtype, ["batch_size", "sequence_length", vocab]),
        helper.make_tensor_value_info("present.0.key", dtype, present),
        helper.make_tensor_value_info("present.0.value", dtype, present),
    ]
    graph = helper.make_graph(nodes, "decoder", inputs, outputs, initializer=inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)]
    )
    model.ir_version = 10
    onnx.checker.check_model(model)
    return model


def two_layer_model(window_past: str, window: int = 4) -> onnx.ModelProto:
    """Two GroupQueryAttention layers of one decoding step (one seqlens_k and
    total_sequence_length): layer 0 with a local window of `window` keys and a past of length
    dim `window_past`, layer 1 without a window and a past of length dim "past" (onnxruntime-
    genai's gpt-oss layout: `window_past` "past_sliding_length" in its NvTensorRtRtx export,
    "past" where every layer holds the full past)."""
    full = gqa_model(GQAConfig())
    windowed = gqa_model(GQAConfig(window=window))
    graph = full.graph
    node = windowed.graph.node[0]
    renamed = {name: f"{name}_w" for name in ("past_key", "past_value", "output")}
    renamed.update(present_key="present_key_w", present_value="present_value_w")
    for field in (node.input, node.output):
        for i, name in enumerate(field):
            field[i] = renamed.get(name, name)
    node.name = "gqa_window"
    graph.node.append(node)
    for info in list(windowed.graph.input):
        if info.name in ("past_key", "past_value"):
            info.name = renamed[info.name]
            info.type.tensor_type.shape.dim[2].dim_param = window_past
            graph.input.append(info)
    for info in list(windowed.graph.output):
        info.name = renamed.get(info.name, info.name)
        graph.output.append(info)
    return full
