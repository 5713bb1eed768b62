"""Concat, Split, Slice, Pad, Tile, Expand.

Sources: onnx-tensorrt docs/operators.md (10.x rows) and onnxOpImporters.cpp (importConcat,
importSplit, importSlice, importPad, importTile, importExpand: each refuses UINT8 data through
`notInvalidType`); observed with the TensorRT-RTX 1.7.1 parser:
- Slice `starts`/`ends`/`axes`/`steps`, Pad `pads`/`constant_value`/`axes`, Tile `repeats`,
  Expand `shape` and Split `split` may all be network inputs (shape tensors); none needs to be
  an initializer any more (older operators.md rows said Slice/Pad axes must be).
- Split with num_outputs sizes chunks ceil(dim/n) and fails when the last one would be negative
  ("The last chunk size is negative", onnx/onnx#5766).
- Pad modes constant, reflect, edge and wrap are all accepted; BOOL and INT64 data too.
- Slice starts/ends/axes/steps, Pad pads and Expand shape of dynamic length fail (the number of
  axes / the output rank is a build-time value); Tile repeats of dynamic length parse,
  repeats of rank 2 fail (`_check_repeats_rank`).
- Pad, Tile and Expand to a static dim above 2^31 - 1 fail, and Slice steps outside the 32-bit
  range (`_tensor_common.output_dims_fit`, `int32_values`).
- Concat mixing an Unsqueeze of a quantized scalar with other tensors fails
  (`_tensor_common.QDQ_SOURCE`).
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._compute import checks
from trtforge.analyzer.kb.ops._tensor_common import (
    INDEX,
    OBSERVED,
    OPSRC,
    TENSOR,
    int32_values,
    output_dims_fit,
    quantized_extent,
    shape_inputs_check,
    static_lengths_check,
    unsqueezed_quantized_scalar,
)
from trtforge.analyzer.kb.rule import AttrLimit, NodeContext, OpRule


def _check_repeats_rank(ctx: NodeContext):
    """Tile's `repeats` is 1-D (ONNX's Tile). Another known rank fails the parser (observed
    with TensorRT-RTX 1.7.1: repeats of shape [1, 1] → "Assertion x.nbDims == y.nbDims failed
    … in ONNXTRT_ShapeElementWise"; the TorchScript export of tensor_split writes them, in
    Hugging Face Mamba) and onnxruntime ("'repeat' input tensor must be 1 dimensional"); ONNX
    shape inference does not check it."""
    info = ctx.input(1)
    if info is not None and info.rank is not None and info.rank != 1:
        yield ctx.finding(
            "rank",
            f"repeats '{ctx.node.input[1]}' has rank {info.rank} (shape {list(info.shape)}); "
            "Tile takes a 1-D repeats",
            "reshape repeats to 1-D in the exporter (a Squeeze/Reshape before this node)",
        )


def _check_concat_shapes(ctx: NodeContext, shapes: list):
    """The inputs' known ranks must be equal, and their known dims equal on every axis but
    `axis` (onnxruntime and TensorRT's parser refuse the node otherwise; onnx shape inference
    reports it as a merge error, which alone does not tell it from a stale value_info).
    `shapes`: the shapes of the inputs whose rank is known, in order."""
    if len(shapes) < 2:
        return
    distinct = list(dict.fromkeys(shapes))  # (a Concat of 100,000 inputs has a few shapes)

    def listed() -> str:
        return ", ".join(str(list(shape)) for shape in shapes)

    if len({len(shape) for shape in distinct}) > 1:
        yield ctx.finding(
            "shapes-mismatch",
            f"inputs of different ranks ({listed()}); Concat joins tensors of one rank",
            "fix the shapes in the exporter (a Reshape/Unsqueeze missing before this node)",
        )
        return
    rank = len(distinct[0])
    axis = ctx.attr("axis")
    if not isinstance(axis, int) or not -rank <= axis < rank:
        return  # validity reports an axis out of range
    axis %= rank
    for dim in range(rank):
        known = {shape[dim] for shape in distinct if isinstance(shape[dim], int)}
        if dim != axis and len(known) > 1:
            yield ctx.finding(
                "shapes-mismatch",
                f"input shapes {listed()} differ on axis {dim} (dims {sorted(known)}), which "
                f"is not the concatenation axis {axis}; onnxruntime and TensorRT's parser "
                "refuse the node",
                "fix the shapes in the exporter (a constant exported for another input size, "
                "or a Reshape/Transpose missing before this node)",
            )
            return


#: IConcatenationLayer takes fewer inputs than this ("nbInputs < kMAX_CONCAT_INPUTS"; observed
#: with TensorRT-RTX 1.7.1: 9,999 inputs parse, 10,000 fail).
MAX_CONCAT_INPUTS = 10_000


def _check_concat(ctx: NodeContext):
    if ctx.num_inputs >= MAX_CONCAT_INPUTS:
        yield ctx.finding(
            "input-count",
            f"{ctx.num_inputs} inputs; TensorRT concatenates fewer than {MAX_CONCAT_INPUTS}",
            "concatenate in stages (a Concat of Concats of fewer inputs each)",
        )
    facts = ctx.input_facts()
    shapes = [x[1] for x in facts if x is not None and x[1] is not None]
    yield from _check_concat_shapes(ctx, shapes)
    # A Concat mixing an unsqueezed quantized scalar with other tensors is refused; one of
    # such tensors only passes their unknown extent on (`_tensor_common.QDQ_SOURCE`). Only
    # rank-1 inputs can be one: a data Concat's verdict stays shared (VerdictMemo).
    if not any(len(shape) == 1 for shape in shapes):
        return
    if not ctx.graph_has_quantization:
        return
    sources = [
        ctx.input_derived(index, unsqueezed_quantized_scalar) if x is not None else None
        for index, x in enumerate(facts)
    ]
    present = [source for source, x in zip(sources, facts, strict=True) if x is not None]
    if all(present) or not any(present):
        return
    index = next(i for i, source in enumerate(sources) if source)
    yield quantized_extent(ctx, index, f"input {index}", sources[index])


def _check_split(ctx: NodeContext):
    # importSplit: opset 18 `num_outputs` must match the node's outputs.
    n = ctx.attr("num_outputs")
    if n is None or ctx.opset < 18:
        return
    n = int(n)
    if n != ctx.num_outputs:  # (the output count is in the node's key: `ctx.node` is not)
        yield ctx.finding(
            "num-outputs",
            f"num_outputs={n} does not match the node's {ctx.num_outputs} outputs",
            "re-export the model; the exporter produced an inconsistent Split",
        )
        return
    # importSplit sizes the chunks ceil(dim / n) and gives the rest to the last one, which
    # must not be negative (onnx/onnx#5766).
    info = ctx.input(0)
    if info is None or info.shape is None or not info.shape or n <= 0:
        return
    axis = ctx.attr_int("axis", 0) % len(info.shape)
    dim = info.shape[axis]
    if isinstance(dim, int) and dim >= 0:
        chunk = -(-dim // n)
        if (n - 1) * chunk > dim:
            yield ctx.finding(
                "negative-last-chunk",
                f"splitting a dim of {dim} into num_outputs={n} leaves the last chunk "
                f"{dim - (n - 1) * chunk} elements",
                "pass explicit split sizes (the `split` input) instead of num_outputs",
            )


RULES = [
    OpRule(
        op="Concat",
        empty_inputs_refused="*",  # observed, TensorRT-RTX 1.7.1
        source=f"{OPSRC} importConcat; docs/operators.md (Concat); {OBSERVED}",
        types={"*": TENSOR},
        check=_check_concat,
    ),
    OpRule(
        op="Split",
        empty_outputs_refused=True,  # observed, TensorRT-RTX 1.7.1
        empty_inputs_refused=frozenset({1}),  # observed, TensorRT-RTX 1.7.1
        source=f"{OPSRC} importSplit; docs/operators.md (Split); {OBSERVED}",
        types={0: TENSOR, 1: INDEX},
        check=_check_split,
    ),
    OpRule(
        op="Slice",
        empty_inputs_refused=frozenset({3, 4}),  # observed, TensorRT-RTX 1.7.1
        source=f"{OPSRC} importSlice; docs/operators.md (Slice); {OBSERVED}",
        types={0: TENSOR, 1: INDEX, 2: INDEX, 3: INDEX, 4: INDEX},
        check=checks(
            shape_inputs_check((1, "starts"), (2, "ends"), (3, "axes"), (4, "steps")),
            static_lengths_check((1, "starts"), (2, "ends"), (3, "axes"), (4, "steps")),
            lambda ctx: int32_values(ctx, 4, "steps"),
        ),
    ),
    OpRule(
        op="Pad",
        source=f"{OPSRC} importPad; docs/operators.md (Pad); {OBSERVED}",
        types={0: TENSOR, 1: INDEX, 2: TENSOR, 3: INDEX},
        attrs=(
            AttrLimit(
                "mode",
                allowed={"constant", "reflect", "edge", "wrap"},
                default="constant",
                hint="use one of constant, reflect, edge or wrap",
            ),
        ),
        check=checks(static_lengths_check((1, "pads")), output_dims_fit),
    ),
    OpRule(
        op="Tile",
        source=f"{OPSRC} importTile; docs/operators.md (Tile); {OBSERVED}",
        types={0: TENSOR, 1: INDEX},
        check=checks(shape_inputs_check((1, "repeats")), _check_repeats_rank, output_dims_fit),
    ),
    OpRule(
        op="Expand",
        source=f"{OPSRC} importExpand; docs/operators.md (Expand); {OBSERVED}",
        types={0: TENSOR, 1: INDEX},
        check=checks(
            shape_inputs_check((1, "shape")), static_lengths_check((1, "shape")), output_dims_fit
        ),
    ),
]
