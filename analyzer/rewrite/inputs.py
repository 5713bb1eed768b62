"""Verification inputs a real model runs with, derived from the graph.

Random inputs break real models in predictable ways: token ids past a vocabulary of 2
(BERT's `token_type_ids`), masks that hide every key, spatial sizes a UNet's up-block Concat
cannot take, KV caches shaped unlike the model's heads. This module reads the graph for what
each input must be, and proposes candidate feeds; the verifier runs the ORIGINAL model on them
and keeps the first one it runs with (a failing original is the inputs' fault, not the
rewrite's).

What is derived:
  * integer bounds: an integer input is followed through value-preserving ops (Cast, Reshape,
    Unsqueeze, Concat, ...) and Add/Sub of constants to every Gather / GatherElements /
    GatherND / EmbedLayerNormalization it indexes; values stay below the smallest table size.
  * masks: inputs named like a mask, or reaching a Where condition or a contrib attention's
    mask input, get 0/1 values with a 1 in the first position of every row.
  * split sizes: an integer input that is the `split` of a Split / SplitToSequence gets
    non-negative sizes summing to the split dim of the data it splits.
  * sizes: a named dim takes one value everywhere (`--dim` or `DEFAULT_DIM`); dynamic spatial
    dims of a convolutional model (axes >= 2, or axis 1 of a rank-2 float input: a waveform)
    are multiples of its cumulative stride, then 32 and 64.
  * decoders (KV-cache inputs `past_key_values.*`, `past_key`/`past_value`, ...): head count and
    head size from the inputs' fixed dims, else `genai_config.json` beside the model, else the
    graph's GroupQueryAttention/MultiHeadAttention attributes; two steps are fed — a prefill
    (past length 0) and a decode step (sequence 1 after a non-empty past), with
    `attention_mask`, `position_ids`, `seqlens_k` and `total_sequence_length` consistent.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import numpy_helper

from trtforge.analyzer.dim_profiles import genai_config_in, positive_count
from trtforge.analyzer.errors import UserError, short
from trtforge.analyzer.outputs import protect

if TYPE_CHECKING:
    from trtforge.analyzer.inference import TypeTable

log = logging.getLogger("trtforge.rewrite.inputs")

#: size given to a dynamic dim that nothing names.
DEFAULT_DIM = 3
#: the largest input verification generates (a declared static shape can ask for exabytes)
MAX_GENERATED_BYTES = 4 << 30
#: exclusive upper bound of integer inputs that index nothing the graph shows.
DEFAULT_INT_HIGH = 4
#: decode step: the past length (the prefill step has none).
DECODE_PAST = 3
#: ops whose output holds (a subset or rearrangement of) the values of the input at index 0.
_PASS_THROUGH = frozenset(
    {
        "Cast",
        "Identity",
        "Reshape",
        "Unsqueeze",
        "Squeeze",
        "Flatten",
        "Expand",
        "Transpose",
        "Slice",
        "Tile",
        "Split",
        "Concat",
        "Gather",
        "GatherElements",
        "Pad",
        "Abs",
        "Max",
        "Min",
    }
)
#: (domain, op) -> {index input: table input, the indexed axis being 0}.
_CONTRIB_TABLES = {
    ("com.microsoft", "EmbedLayerNormalization"): {0: 2, 1: 4, 8: 3},
}
#: (domain, op) -> mask input indices.
_CONTRIB_MASKS = {
    ("com.microsoft", "EmbedLayerNormalization"): {7},
    ("com.microsoft", "Attention"): {3},
    ("com.microsoft", "MultiHeadAttention"): {4},
    ("com.microsoft", "PackedAttention"): {3},
}
_STRIDED = frozenset(
    {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "QLinearConv", "ConvInteger"}
)
_PAST = re.compile(
    r"^(past_key_values[._]\d+[._](key|value)|past[._]\d+[._](key|value)|past_(key|value)"
    r"(_\d+)?|past_key_values|cache_(key|value)[._]?\d*)$",
    re.IGNORECASE,
)


@dataclass
class Step:
    """One feed of a verification candidate, with a label for messages ("prefill", ...)."""

    label: str
    feed: dict[str, np.ndarray]
    #: output -> how many of its positions on axis 2 the step defines: the present cache of
    #: a sliding-window layer holds the window's length, of which onnxruntime writes only the
    #: sequence so far (the rest is whatever its buffer held: it differs from run to run)
    defined: dict[str, int] = field(default_factory=dict)

    def defined_part(self, name: str, value):
        """`value` of output `name`, cut to the positions this step defines."""
        length = self.defined.get(name)
        if length is None or getattr(value, "ndim", 0) < 3:
            return value
        return value[:, :, :length]


@dataclass
class Candidate:
    """A set of steps that together make one verification (one for most models, two for
    decoders), and what was assumed to make them."""

    steps: list[Step]
    assumed: str = ""


@dataclass
class _Graph:
    """What the derivation reads of a graph: producers, consumers, constants, shapes."""

    proto: onnx.ModelProto
    consumers: dict[str, list[tuple[onnx.NodeProto, int]]] = field(default_factory=dict)
    shapes: dict[str, list] = field(default_factory=dict)
    small: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def of(cls, proto: onnx.ModelProto, types: TypeTable | None = None) -> _Graph:
        """What the derivation reads of `proto`; shapes from `types` (its type table, e.g.
        `ModelSession.types()`), inferred here when not given."""
        g = cls(proto)
        for node in proto.graph.node:
            for index, name in enumerate(node.input):
                if name:
                    g.consumers.setdefault(name, []).append((node, index))
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                for attr in node.attribute:
                    if attr.name == "value" and attr.t.data_location != onnx.TensorProto.EXTERNAL:
                        g.small[node.output[0]] = numpy_helper.to_array(attr.t)
        for init in proto.graph.initializer:
            g.shapes[init.name] = list(init.dims)
            if (
                init.data_location != onnx.TensorProto.EXTERNAL
                and int(np.prod(init.dims, dtype=np.int64)) <= 16
            ):
                g.small[init.name] = numpy_helper.to_array(init)
        if types is None:
            from trtforge.analyzer.inference import collect_declared_types, infer_types

            try:  # the model's declared types when inference fails
                types = infer_types(proto)
            except Exception as err:  # noqa: BLE001 - shapes are a help, not a need
                log.info("no inferred shapes for input generation (%s)", err)
                types = collect_declared_types(proto)
        for name in types:
            typed = types.decoded(name)
            if typed is not None and typed[1] is not None:
                g.shapes.setdefault(name, list(typed[1]))
        return g

    def dim(self, name: str, axis: int) -> int | None:
        shape = self.shapes.get(name)
        if shape is None or not shape:
            return None
        if axis < 0:
            axis += len(shape)
        if not 0 <= axis < len(shape):
            return None
        value = shape[axis]
        return value if isinstance(value, int) and value > 0 else None


def _attr(node: onnx.NodeProto, name: str, default=None):
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def _scalar(g: _Graph, name: str) -> int | None:
    value = g.small.get(name)
    if value is None or value.size != 1 or value.dtype.kind not in "iu":
        return None
    return int(value.reshape(-1)[0])


def index_bound(g: _Graph, start: str) -> int | None:
    """The smallest table size `start`'s values index (exclusive bound), None if they index none.

    Follows the values through `_PASS_THROUGH` ops and Add/Sub of integer constants (a shift
    of the values: `ids + 2` indexes a table of N with ids below N - 2).
    """
    best: int | None = None
    seen: set[tuple[str, int]] = set()
    stack = [(start, 0)]
    while stack:
        name, shift = stack.pop()
        if (name, shift) in seen or len(seen) > 10_000:
            continue
        seen.add((name, shift))
        for node, index in g.consumers.get(name, []):
            op, domain = node.op_type, node.domain or ""
            size = None
            if op == "Gather" and domain in ("", "ai.onnx") and index == 1:
                size = g.dim(node.input[0], int(_attr(node, "axis", 0)))
            elif op == "GatherElements" and index == 1:
                size = g.dim(node.input[0], int(_attr(node, "axis", 0)))
            elif op == "GatherND" and index == 1:
                shape = g.shapes.get(node.input[0]) or []
                dims = [d for d in shape[int(_attr(node, "batch_dims", 0)) :] if isinstance(d, int)]
                size = min(dims) if dims else None
            elif op == "GatherBlockQuantized" and index == 1:
                size = g.dim(node.input[0], int(_attr(node, "gather_axis", 0)))
            elif (domain, op) in _CONTRIB_TABLES and index in _CONTRIB_TABLES[(domain, op)]:
                size = g.dim(node.input[_CONTRIB_TABLES[(domain, op)][index]], 0)
            elif op in ("Add", "Sub") and len(node.input) == 2:
                other = _scalar(g, node.input[1 - index])
                if other is not None:
                    delta = other if op == "Add" else (-other if index == 0 else None)
                    if delta is not None:
                        stack.append((node.output[0], shift + delta))
                continue
            elif op in _PASS_THROUGH and (index == 0 or op in ("Concat", "Max", "Min")):
                stack.extend((out, shift) for out in node.output if out)
                continue
            if size is not None:
                bound = size - shift
                best = bound if best is None else min(best, bound)
    return best


def is_mask(g: _Graph, name: str) -> bool:
    """True for an attention-style mask: named like one, or feeding a Where condition or a
    contrib attention's mask input (through value-preserving ops and Cast/Not/Equal)."""
    if "mask" in name.lower():
        return True
    seen: set[str] = set()
    stack = [name]
    while stack:
        current = stack.pop()
        if current in seen or len(seen) > 2000:
            continue
        seen.add(current)
        for node, index in g.consumers.get(current, []):
            key = (node.domain or "", node.op_type)
            if node.op_type == "Where" and index == 0:
                return True
            if key in _CONTRIB_MASKS and index in _CONTRIB_MASKS[key]:
                return True
            if node.op_type in _PASS_THROUGH | {"Not", "Equal"} and index == 0:
                stack.extend(o for o in node.output if o)
    return False


def cumulative_stride(proto: onnx.ModelProto) -> int:
    """The product of every strided Conv/pool's largest stride, capped at 64 (1 if none)."""
    total = 1
    for node in proto.graph.node:
        if node.op_type in _STRIDED:
            strides = _attr(node, "strides", None)
            if strides:
                total *= max(1, max(int(s) for s in strides))
        if total >= 64:
            return 64
    return total


@dataclass(frozen=True)
class DecoderLayout:
    """The dims of a KV-cache decoder's inputs, by name."""

    past_inputs: tuple[str, ...]
    past_dim: str | None  # the symbolic past-length dim of the past inputs
    seq_dim: str | None
    total_dim: str | None
    heads: dict[str, int]  # past input -> head count (axis 1) when it had to be found
    head_size: dict[str, int]  # past input -> head size (axis 3) when it had to be found
    #: past input -> its length at every step: a window-sized cache (onnxruntime-genai's
    #: sliding-window layers: GroupQueryAttention with `sliding_window_cache` takes a cache
    #: of the window's length, "KV cache capacity (0) must be at least local_window_size")
    window: dict[str, int] = field(default_factory=dict)
    #: present output -> the window's length, for those caches
    window_outputs: dict[str, int] = field(default_factory=dict)


def _genai_config(folder: Path | None) -> dict:
    """The decoder section of the genai_config.json in `folder`; {} where there is none to
    read (`dim_profiles.genai_config_in`: a regular file in the folder) or it is not an object."""
    if folder is None:
        return {}
    data = genai_config_in(folder) or {}
    model = data.get("model")
    decoder = model.get("decoder") if isinstance(model, dict) else None
    return decoder if isinstance(decoder, dict) else {}


def decoder_layout(proto: onnx.ModelProto, folder: Path | None = None) -> DecoderLayout | None:
    """The KV-cache layout of a decoder, or None when the model takes no past inputs."""
    inits = {t.name for t in proto.graph.initializer}
    inputs = [vi for vi in proto.graph.input if vi.name not in inits]
    past = [vi for vi in inputs if _PAST.match(vi.name)]
    if not past:
        return None

    def dims(vi):
        return list(vi.type.tensor_type.shape.dim)

    config = _genai_config(folder)  # (a count that is not a positive integer: not known)
    window, window_outputs = _window_caches(proto, past, config)
    past_dim = None
    for vi in sorted(past, key=lambda vi: vi.name in window):  # a full cache's first
        d = dims(vi)
        if len(d) == 4 and d[2].dim_param:
            past_dim = d[2].dim_param
            break
    seq_dim = total_dim = None
    for vi in inputs:
        d = dims(vi)
        if vi.name in ("input_ids", "inputs_embeds") and len(d) >= 2 and d[1].dim_param:
            seq_dim = d[1].dim_param
    for vi in inputs:
        d = dims(vi)
        if "mask" in vi.name.lower() and len(d) == 2 and d[1].dim_param:
            if d[1].dim_param not in (seq_dim, past_dim):
                total_dim = d[1].dim_param
    kv_heads = positive_count(config.get("num_key_value_heads"))
    head_size = positive_count(config.get("head_size"))
    if kv_heads is None or head_size is None:
        for node in proto.graph.node:
            if node.op_type in ("GroupQueryAttention", "MultiHeadAttention"):
                kv_heads = (
                    kv_heads
                    or positive_count(_attr(node, "kv_num_heads", None))
                    or positive_count(_attr(node, "num_heads", None))
                )
    heads: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for vi in past:
        d = dims(vi)
        if len(d) != 4:
            continue
        if not d[1].HasField("dim_value") and kv_heads:
            heads[vi.name] = int(kv_heads)
        if not d[3].HasField("dim_value") and head_size:
            sizes[vi.name] = int(head_size)
    return DecoderLayout(
        tuple(vi.name for vi in past),
        past_dim,
        seq_dim,
        total_dim,
        heads,
        sizes,
        window,
        window_outputs,
    )


def _window_caches(proto, past, config: dict) -> tuple[dict[str, int], dict[str, int]]:
    """Past input -> its window's length, and present output -> the same, for the caches of
    sliding-window layers (read by a GroupQueryAttention with `sliding_window_cache` set;
    their length dim is `past_sliding_length` in onnxruntime-genai's exports):
    genai_config.json's `sliding_window.window_size`, else the node's `local_window_size`."""
    sliding = config.get("sliding_window")
    configured = positive_count(sliding.get("window_size")) if isinstance(sliding, dict) else None
    window: dict[str, int] = {}
    outputs: dict[str, int] = {}
    names = {vi.name: vi for vi in past}
    for node in proto.graph.node:
        if node.op_type != "GroupQueryAttention" or not _attr(node, "sliding_window_cache", 0):
            continue
        size = configured or positive_count(_attr(node, "local_window_size", None))
        for name in node.input[3:5]:
            vi = names.get(name)
            if vi is not None and size is not None and len(vi.type.tensor_type.shape.dim) == 4:
                window[name] = int(size)
                outputs.update((out, int(size)) for out in node.output[1:3] if out)
    return window, outputs


def _fill(
    g: _Graph,
    vi: onnx.ValueInfoProto,
    dims: Mapping[str, int],
    rng: np.random.Generator,
    overrides: Mapping[int, int] | None = None,
) -> np.ndarray:
    ttype = vi.type.tensor_type
    shape = []
    for axis, dim in enumerate(ttype.shape.dim):
        if overrides and axis in overrides:
            shape.append(overrides[axis])
        elif dim.HasField("dim_value") and dim.dim_value >= 0:
            shape.append(dim.dim_value)
        else:
            key = dim.dim_param or f"{vi.name}:{axis}"
            shape.append(int(dims.get(key, DEFAULT_DIM)))
    np_type = onnx.helper.tensor_dtype_to_np_dtype(ttype.elem_type)
    kind = np.dtype(np_type).kind
    name = vi.name
    size = np.dtype(np_type).itemsize * int(np.prod(shape, dtype=object))
    if size > MAX_GENERATED_BYTES:
        raise UserError(
            f"input '{short(name)}' of shape {shape} would take {size / 2**30:.3g} GiB: too "
            "large to generate for verification",
            "give its symbolic dims smaller sizes with --dim NAME=SIZE, or skip verification "
            "with --no-verify",
        )
    if is_mask(g, name) and kind in "iufb":
        values = rng.integers(0, 2, size=shape)
        if values.ndim >= 1 and values.size:
            values[..., 0] = 1  # every row sees at least one position
        return values.astype(np_type)
    if kind == "f":
        return rng.standard_normal(shape).astype(np_type)
    if kind in "iu":
        bound = index_bound(g, name)
        high = DEFAULT_INT_HIGH if bound is None else max(1, min(bound, DEFAULT_INT_HIGH * 8))
        return rng.integers(0, high, size=shape).astype(np_type)
    if kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    raise UserError(
        f"input '{name}' has type {onnx.TensorProto.DataType.Name(ttype.elem_type)}, which "
        "verification cannot generate",
        "give inputs with --inputs FILE.npz or --data-loader-script, or rewrite with --no-verify",
    )


def _feed(
    proto: onnx.ModelProto,
    g: _Graph,
    dims: Mapping[str, int],
    seed: int,
    overrides: Mapping[str, Mapping[int, int]] | None = None,
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    inits = {t.name for t in proto.graph.initializer}
    feed = {}
    for vi in proto.graph.input:
        if vi.name in inits:
            continue
        inner = vi.type.optional_type.elem_type if vi.type.HasField("optional_type") else None
        if inner is not None and inner.HasField("tensor_type"):  # fed as the tensor it holds
            vi = onnx.helper.make_value_info(vi.name, inner)
        if not vi.type.HasField("tensor_type"):
            raise UserError(
                f"input '{vi.name}' is not a tensor; verification cannot feed it",
                "give inputs with --data-loader-script, or rewrite with --no-verify",
            )
        feed[vi.name] = _fill(g, vi, dims, rng, (overrides or {}).get(vi.name))
    for name, value in list(feed.items()):
        total = split_total(g, name, feed)
        if total is not None and value.ndim == 1 and value.size:
            feed[name] = _composition(total, value.size, rng).astype(value.dtype)
    return feed


def split_total(g: _Graph, name: str, feed: Mapping[str, np.ndarray]) -> int | None:
    """The length that the integer input `name` splits when it is the `split` input of a
    Split / SplitToSequence (its sizes must add up to it), else None."""
    if name not in feed or feed[name].dtype.kind not in "iu":
        return None
    for node, index in g.consumers.get(name, []):
        if node.op_type not in ("Split", "SplitToSequence") or index != 1:
            continue
        data, axis = node.input[0], int(_attr(node, "axis", 0))
        if data in feed:
            shape = feed[data].shape
            if -len(shape) <= axis < len(shape):
                return int(shape[axis])
        else:
            return g.dim(data, axis)
    return None


def _composition(total: int, parts: int, rng: np.random.Generator) -> np.ndarray:
    """`parts` random non-negative integers adding up to `total`."""
    cuts = np.sort(rng.integers(0, total + 1, size=parts - 1))
    return np.diff(np.concatenate([[0], cuts, [total]])).astype(np.int64)


def _spatial_dims(proto: onnx.ModelProto) -> set[str]:
    """Names of dynamic dims at spatial positions of float inputs of a model with convolutions
    or pooling: axes >= 2, or axis 1 of a rank-2 input (a waveform [batch, samples] that the
    model unsqueezes into a 1-D convolution's channel axis, as wav2vec2 does)."""
    if not any(n.op_type in _STRIDED for n in proto.graph.node):
        return set()
    names = set()
    for vi in proto.graph.input:
        ttype = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or ttype.elem_type not in (1, 10, 16, 11):
            continue
        rank = len(ttype.shape.dim)
        first = 2 if rank >= 3 else 1
        for axis, dim in enumerate(ttype.shape.dim):
            if axis >= first and rank >= 2 and not dim.HasField("dim_value"):
                names.add(dim.dim_param or f"{vi.name}:{axis}")
    return names


def dynamic_dim_names(proto: onnx.ModelProto) -> list[str]:
    """The names `--dim NAME=SIZE` can size, in input order: each dynamic dim's dim_param,
    or `INPUT:AXIS` for one without a name (the key the generated inputs read)."""
    initializers = {init.name for init in proto.graph.initializer}
    names: dict[str, None] = {}
    for vi in proto.graph.input:
        if vi.name in initializers or not vi.type.tensor_type.HasField("shape"):
            continue
        for axis, dim in enumerate(vi.type.tensor_type.shape.dim):
            if not (dim.HasField("dim_value") and dim.dim_value >= 0):
                names.setdefault(dim.dim_param or f"{vi.name}:{axis}")
    return list(names)


def check_dim_sizes(proto: onnx.ModelProto, dims: Mapping[str, int]) -> None:
    """Refuses a `--dim` name the model's inputs do not have (a typo would otherwise be
    ignored, and the inputs generated at the default size)."""
    for name, size in dims.items():  # (the Python API: the CLI parses NAME=SIZE itself)
        if positive_count(size) is None:
            raise UserError(
                f"--dim {short(str(name))}={short(repr(size))}: not a positive integer size",
                "give each named dim a size from 1 to 2147483647",
            )
    known = dynamic_dim_names(proto)
    unknown = [name for name in dims if name not in known]
    if unknown:
        shown = ", ".join(short(name) for name in known[:12]) or "none"
        raise UserError(
            f"--dim {short(unknown[0])}: the model's inputs have no dynamic dim of that name",
            f"its dynamic dims: {shown}",
        )


def _decoder_steps(
    proto: onnx.ModelProto,
    g: _Graph,
    layout: DecoderLayout,
    dims: Mapping[str, int],
    seed: int,
) -> list[Step]:
    seq = int(dims.get(layout.seq_dim or "", DEFAULT_DIM)) if layout.seq_dim else DEFAULT_DIM
    steps = []
    for label, s, past in (("prefill", seq, 0), ("decode", 1, DECODE_PAST)):
        total = s + past
        step_dims = dict(dims)
        for name, value in (
            (layout.seq_dim, s),
            (layout.past_dim, past),
            (layout.total_dim, total),
        ):
            if name:
                step_dims[name] = value
        overrides: dict[str, dict[int, int]] = {}
        for name in layout.past_inputs:
            over = {2: layout.window.get(name, past)}
            if name in layout.heads:
                over[1] = layout.heads[name]
            if name in layout.head_size:
                over[3] = layout.head_size[name]
            overrides[name] = over
        feed = _feed(proto, g, step_dims, seed, overrides)
        for name, value in list(feed.items()):
            lower = name.lower()
            if "mask" in lower and value.ndim == 2:
                feed[name] = np.ones((value.shape[0], total), dtype=value.dtype)
            elif lower in ("position_ids", "cache_position"):
                pos = np.arange(past, total, dtype=value.dtype)
                feed[name] = np.broadcast_to(pos, value.shape).copy() if value.ndim else pos
            elif lower == "seqlens_k":
                feed[name] = np.full(value.shape, total - 1, dtype=value.dtype)
            elif lower == "total_sequence_length":
                feed[name] = np.full(value.shape, total, dtype=value.dtype)
        defined = {name: min(total, size) for name, size in layout.window_outputs.items()}
        steps.append(Step(f"{label} (sequence {s}, past {past})", feed, defined))
    return steps


def candidates(
    proto: onnx.ModelProto,
    seed: int = 0,
    dims: Mapping[str, int] | None = None,
    folder: Path | None = None,
    types: TypeTable | None = None,
) -> list[Candidate]:
    """Candidate feeds for verifying `proto`, most plausible first (`types`: its type table,
    when the caller has it).

    The verifier runs the original model on each in turn and keeps the first it runs with.
    Spatial dims try multiples of the cumulative stride, then 32 and 64; other dynamic dims
    then 1 and 8. A decoder's candidate has two steps (prefill and decode).
    """
    given = dict(dims or {})
    g = _Graph.of(proto, types)
    layout = decoder_layout(proto, folder)
    if layout is not None:
        return [Candidate(_decoder_steps(proto, g, layout, given, seed), "decoder steps")]
    spatial = {n for n in _spatial_dims(proto) if n not in given}
    stride = cumulative_stride(proto)
    sizes = []
    for size in (
        max(stride, 8) if stride > 1 else None,
        2 * stride if stride > 1 else None,
        32,
        64,
    ):
        if size and size not in sizes:
            sizes.append(size)
    plans: list[tuple[dict[str, int], str]] = []
    if spatial:
        for size in sizes:
            plans.append(({**{n: size for n in spatial}, **given}, f"spatial dims {size}"))
    else:
        plans.append((given, f"dynamic dims {DEFAULT_DIM}"))
    named = {
        d.dim_param
        for vi in proto.graph.input
        if vi.type.HasField("tensor_type")
        for d in vi.type.tensor_type.shape.dim
        if d.dim_param and d.dim_param not in given and d.dim_param not in spatial
    }
    for size in (1, 8):
        base = dict(plans[0][0])
        base.update({n: size for n in named})
        plans.append((base, f"other dynamic dims {size}"))
    out = []
    for plan, assumed in plans:
        out.append(Candidate([Step("inputs", _feed(proto, g, plan, seed))], assumed))
    return out


def check_feed_paths(paths: list[str], script: str | None = None) -> None:
    """Refuses, before any rewriting, feed files and a data-loader script that are not there.

    They are read only when a pass changed the model (there is nothing to verify otherwise),
    so a misspelt name would go unnoticed until a model that needs them.
    """
    protect_feeds(paths, script)
    wanted = [("--inputs", item, True) for item in paths]
    if script:
        wanted.append(("--data-loader-script", script.partition(":")[0], False))
    for flag, item, folder_ok in wanted:
        try:
            there = Path(item).is_file() or (folder_ok and Path(item).is_dir())
        except OSError as err:  # a name the system refuses (too long, a folder not entered)
            raise UserError(
                f"{flag} {item}: {err.strerror or err}", "give a readable file"
            ) from None
        if not there:
            what = "file or folder" if folder_ok else "file"
            raise UserError(f"{flag} {item}: no such {what}", "check the path")


def protect_feeds(paths: list[str], script: str | None = None) -> None:
    """Marks the feed files a command is given (each .npz named, every .npz of a folder
    named, the loader script) as inputs, when the command starts: no output may replace
    them, whether or not the command comes to read them (`outputs.protect`)."""
    files: list[Path] = []
    for item in paths:
        path = Path(item)
        try:
            files.extend(sorted(path.glob("*.npz")) if path.is_dir() else [path])
        except (OSError, ValueError):  # unreadable: the command refuses it anyway
            files.append(path)
    if script:
        files.append(Path(script.partition(":")[0]))
    protect(*files)


def load_npz(paths: list[str], flag: str = "--inputs") -> list[Candidate]:
    """User feeds: `.npz` files of arrays named after the model inputs, or folders of them
    (one step per file, in name order), at most MAX_FEED_BYTES in all (`FeedBudget`)."""
    steps = []
    budget = FeedBudget(flag)
    for item in paths:
        path = Path(item)
        files = sorted(path.glob("*.npz")) if path.is_dir() else [path]
        if not files:
            raise UserError(f"{flag} {item}: no .npz file in that folder", "give FILE.npz")
        for file in files:
            feed = read_npz(file, flag, budget)
            budget.take(feed, str(file))
            steps.append(Step(file.name, feed))
    return [Candidate(steps, f"inputs given with {flag}")]


#: the most all the feeds of one option may hold together (arrays in memory, checked for an
#: archive from its directory before anything is decompressed): a folder of small archives
#: of zeros, or a loader that never stops, would otherwise exhaust the memory
MAX_FEED_BYTES = 2 << 30
#: the most feeds (samples, steps) a data loader may yield
MAX_FEEDS = 65_536


class FeedBudget:
    """Counts the feeds one option gives and the bytes their arrays hold, and stops the
    command with a UserError past MAX_FEEDS or MAX_FEED_BYTES."""

    def __init__(self, flag: str) -> None:
        self.flag, self.feeds, self.bytes = flag, 0, 0

    def take(self, feed: Mapping[str, np.ndarray], where: str) -> None:
        self.feeds += 1
        self.bytes += sum(int(np.asarray(a).nbytes) for a in feed.values())
        self.check(where)

    def check(self, where: str, more: int = 0) -> None:
        """Stops the command when the feeds taken, and `more` bytes about to be read, are
        past the budget."""
        if self.feeds > MAX_FEEDS:
            raise UserError(
                f"{self.flag} {where}: more than {MAX_FEEDS} feeds",
                "give fewer samples (a few hundred calibrate a model)",
            )
        if self.bytes + more > MAX_FEED_BYTES:
            raise UserError(
                f"{self.flag} {where}: the feeds hold more than {MAX_FEED_BYTES >> 30} GiB "
                "together",
                "give fewer or smaller samples (a few hundred calibrate a model)",
            )


#: the most one feed file may hold once decompressed (a few kilobytes of .npz can declare
#: gigabytes of zeros): as much as verification generates for a model's inputs
MAX_FEED_FILE_BYTES = MAX_GENERATED_BYTES

_SAVE_HINT = "save the arrays with numpy.savez(FILE, input_name=array, ...)"


def read_npz(
    file: Path, flag: str = "--inputs", budget: FeedBudget | None = None
) -> dict[str, np.ndarray]:
    """The arrays of the .npz feed file `file`, by name. The file is the user's, as untrusted
    as a model: a FIFO or a device is not opened; a damaged archive, a member that is not an
    array (or one that needs pickle), or more than MAX_FEED_FILE_BYTES once decompressed (read
    from the archive's directory, before anything is decompressed) is a UserError.

    Raises:
        UserError: the file cannot be read as such.
    """
    protect(file)  # read by this command: no output may replace it
    try:
        kind = file.stat().st_mode
    except (OSError, ValueError) as err:
        why = getattr(err, "strerror", None) or "not found"
        raise UserError(f"{flag} {file}: cannot read it ({why})", _SAVE_HINT) from None
    if not stat.S_ISREG(kind):
        raise UserError(f"{flag} {file}: not a regular file", _SAVE_HINT)
    try:
        with open(file, "rb") as handle:
            magic = handle.read(6)
            if magic == b"\x93NUMPY":
                raise UserError(
                    f"{flag} {file}: a .npy file (one unnamed array), not a .npz of arrays "
                    "named after the model's inputs",
                    _SAVE_HINT,
                )
            handle.seek(0)
            with zipfile.ZipFile(handle) as archive:
                members = archive.infolist()
                total = sum(member.file_size for member in members)
                if budget is not None:
                    budget.check(str(file), total)
                if total > MAX_FEED_FILE_BYTES:
                    raise UserError(
                        f"{flag} {file}: its arrays take {total / 2**30:.3g} GiB once "
                        f"decompressed, more than a feed may ({MAX_FEED_FILE_BYTES >> 30} GiB)",
                        "give smaller arrays: one sample per file, shaped as the model takes it",
                    )
                odd = [m.filename for m in members if not m.filename.endswith(".npy")]
                if odd:
                    raise UserError(
                        f"{flag} {file}: member '{short(odd[0])}' is not an array (.npy)",
                        _SAVE_HINT,
                    )
            handle.seek(0)
            with np.load(handle, allow_pickle=False) as data:
                return {key: np.asarray(data[key]) for key in data.files}
    except UserError:
        raise
    except Exception as err:  # noqa: BLE001 - zipfile, zlib and numpy raise many kinds on
        # damaged archives (BadZipFile, EOFError, zlib.error, NotImplementedError, ...)
        reason = " ".join(f"{type(err).__name__}: {err}".split()).rstrip(": ")[:120]
        raise UserError(f"{flag} {file}: not a readable .npz ({reason})", _SAVE_HINT) from None


def load_script(spec: str, flag: str = "--data-loader-script") -> list[Candidate]:
    """User feeds from a Polygraphy-style data-loader script `file.py[:func]` (default
    function `load_data`): an iterable of feed dicts, as `polygraphy run --data-loader-script`
    takes (`_import_script`).

    The script is the user's code and runs as such; what it does to this command is
    contained: no bytecode is written beside it, the working folder it changes is restored
    (relative output paths keep their meaning), what it raises or exits with — SystemExit
    and GeneratorExit too — is a UserError, and it may yield at most MAX_FEEDS feeds and
    MAX_FEED_BYTES (`FeedBudget`)."""
    path, _, func = spec.partition(":")
    try:
        is_file = Path(path).is_file()
    except (OSError, ValueError) as err:  # a name too long, a NUL
        why = getattr(err, "strerror", None) or "not a file name"
        raise UserError(f"{flag} {short(spec)}: cannot read it ({why})", _LOADER_HINT) from None
    if not is_file:
        raise UserError(f"{flag} {short(spec)}: no such file", _LOADER_HINT)
    protect(path)  # read by this command: no output may replace it
    with _contained_user_code():
        try:
            loader = _import_script(path, func or "load_data")
        except _USER_CODE_ERRORS as err:
            raise UserError(
                f"{flag} {short(spec)}: cannot import it ({_described(err)})",
                "the script must define the function (default load_data) returning feed dicts",
            ) from None
        if loader is None:
            raise UserError(
                f"{flag} {short(spec)}: no function '{short(func or 'load_data')}' in it",
                "define load_data() (or name the function after a colon)",
            )
        budget = FeedBudget(flag)
        steps = []
        try:
            data = loader() if callable(loader) else loader
            for i, feed in enumerate(data):
                arrays = {k: np.asarray(v) for k, v in dict(feed).items()}
                budget.take(arrays, f"{short(spec)}[{i}]")
                steps.append(Step(f"{Path(path).name}[{i}]", arrays))
        except UserError:
            raise
        except _USER_CODE_ERRORS as err:
            raise UserError(
                f"{flag} {short(spec)}: the loader failed ({_described(err)})",
                "it must yield dicts of input name -> array",
            ) from None
    if not steps:
        raise UserError(f"{flag} {short(spec)}: the loader yielded no feed", "yield one")
    return [Candidate(steps, f"inputs from {flag}")]


_LOADER_HINT = "give file.py[:function]"

_LOADED_SCRIPTS = itertools.count()


def _import_script(path: str, name: str):
    """Attribute `name` of the Python file `path`, run as a module of its own (as Polygraphy's
    `--data-loader-script` runs it, its folder first on the import path while it loads),
    or None. The module gets a name of its own, never entered in `sys.modules`: a script
    called numpy.py or json.py is the user's script, not the installed module, a dotted file
    name loads, and what it raises is its own error (Polygraphy's importer printed lines
    of its own, one on stdout, and reported a KeyError of its module cleanup instead)."""
    import importlib.util
    import sys

    module_name = f"_trtforge_data_loader_{next(_LOADED_SCRIPTS)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"not a Python file: {short(path)}")
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
    return getattr(module, name, None)


#: what the user's script may raise or exit with, turned into a UserError: everything but
#: KeyboardInterrupt (Ctrl-C, or trtforge's own `Interrupted` on SIGTERM/SIGHUP), which stops
#: the command as it always does
_USER_CODE_ERRORS = (Exception, SystemExit, GeneratorExit)


def _described(err: BaseException) -> str:
    """ "Type: message" of an error the user's code raised, one line; its `__str__` is the
    user's code too, and may raise."""
    try:
        text = str(err)
    except Exception:  # noqa: BLE001 - whatever the user's __str__ raises
        text = "(its message cannot be shown)"
    if isinstance(err, SystemExit):
        text = f"the script called sys.exit({text})" if text else "the script called sys.exit()"
    return " ".join(f"{type(err).__name__}: {text}".split())[:160]


@contextlib.contextmanager
def _contained_user_code():
    """Runs the user's loader script without writing its bytecode beside it, and with the
    working folder restored after it (a script may chdir)."""
    import sys

    try:
        cwd = os.getcwd()
    except OSError:
        cwd = None
    bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = bytecode
        if cwd is not None:
            with contextlib.suppress(OSError):
                if os.getcwd() != cwd:
                    os.chdir(cwd)
