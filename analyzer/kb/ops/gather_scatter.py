"""Gather, GatherElements, GatherND, Scatter, ScatterElements, ScatterND, TensorScatter.

Sources: onnx-tensorrt docs/operators.md (10.x rows: ScatterND "`reduction` is not
supported") and onnxOpImporters.cpp (importGather*, importScatterElements: reduction other
than "none" goes through the `ScatterElements` plugin of libnvinfer_plugin; importScatterND);
TensorRT OSS plugin/scatterElementsPlugin README (name ScatterElements, versions 1 and 2;
reduce="none" is TensorRT core); observed with the TensorRT-RTX 1.7.1 parser:
- UINT8 data refused; INT8 indices refused ("indices input has type Int8 but must have type
  Int64 or Int32").
- ScatterElements with any reduction fails ("Unsupported reduction type"): RTX ships no plugin
  library. ScatterND with a reduction fails on every target.
- TensorScatter (opset 24) imports for a 4-D past cache, mode "linear", axis -2 only.
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._compute import is_dynamic_dim
from trtforge.analyzer.kb.ops._tensor_common import INDEX, OBSERVED, OPSRC, TENSOR
from trtforge.analyzer.kb.rule import AttrLimit, NodeContext, OpRule, Since


def _check_gather_nd(ctx: NodeContext):
    """The last dim of GatherND's indices (how many data dims each index addresses) sets the
    output rank: it must be static (observed with TensorRT-RTX 1.7.1: "Error while computing
    output extent" for indices [C, D] with D dynamic; other index dims may be dynamic).
    `batch_dims` must lie in [0, min(rank(data), rank(indices))) (the ONNX operator spec;
    observed: batch_dims=-100 makes the importer compute a 102-dim output, "more than
    Dims::MAX_DIMS"; ONNX's own inference crashes on it)."""
    yield from _check_batch_dims(ctx)
    idx = ctx.input(1)
    if idx is None or idx.shape is None or not idx.shape or not idx.is_graph_input:
        return  # a computed tensor's dims may be known to TensorRT but not to ONNX inference
    last = idx.shape[-1]
    if not (isinstance(last, int) and last > 0):
        yield ctx.finding(
            "dynamic-index-depth",
            f"the last dim of indices {list(idx.shape)} is dynamic; TensorRT needs it (the "
            "number of indexed dims, which sets the output rank) at build time",
            "give the indices a static last dim",
            source=OBSERVED,
        )


def _check_batch_dims(ctx: NodeContext):
    batch_dims = ctx.attr_int("batch_dims", 0)
    ranks = [info.rank for info in (ctx.input(0), ctx.input(1)) if info is not None]
    known = [r for r in ranks if r is not None]
    limit = min(known) if len(known) == 2 else None
    if batch_dims < 0 or (limit is not None and batch_dims >= limit):
        bound = f"[0, {limit})" if limit is not None else "0 or more"
        yield ctx.finding(
            "batch-dims",
            f"batch_dims={batch_dims} is outside {bound}",
            "fix batch_dims in the exporter: the number of leading dims data and indices share",
        )


def _check_scatter_elements(ctx: NodeContext):
    reduction = ctx.attr("reduction", "none")
    if reduction != "none" and ctx.target.is_rtx:
        yield ctx.finding(
            "reduction",
            f"reduction={reduction!r} needs TensorRT's ScatterElements plugin, which "
            "TensorRT-RTX does not ship",
            "rewrite the scatter-reduce (e.g. as one-hot MatMul/ReduceSum for 'add'), or target "
            "TensorRT",
        )


def _check_tensor_scatter(ctx: NodeContext):
    cache = ctx.input(0)
    rank = cache.rank if cache is not None else None
    if rank is not None and rank != 4:
        yield ctx.finding(
            "rank",
            f"past_cache must be 4-D (rank {rank})",
            "reshape the cache to (batch, heads, sequence, head_dim)",
        )
    axis = ctx.attr_int("axis", -2)
    if rank is not None and axis >= 0:
        axis -= rank
    if axis != -2:
        yield ctx.finding(
            "axis",
            f"the sequence axis must be -2 (axis={ctx.attr('axis', -2)})",
            "lay the cache out as (batch, heads, sequence, head_dim)",
        )
    if rank == 4 and is_dynamic_dim(cache, cache.shape[2]):
        # observed with TensorRT-RTX 1.7.1 (held-out all-dims-dynamic probe): "The KV cache
        # tensor must have a static sequence length dimension" (the KV-cache update layer);
        # dynamic batch, heads, head size and update length parse
        yield ctx.finding(
            "dynamic-cache-length",
            f"past_cache {list(cache.shape)} has a dynamic sequence dim; TensorRT's KV-cache "
            "update needs the cache's capacity at build time",
            "allocate the cache with a fixed maximum sequence length",
        )


RULES = [
    OpRule(
        op="Gather",
        source=f"{OPSRC} importGather; docs/operators.md (Gather); {OBSERVED}",
        types={0: TENSOR, 1: INDEX},
    ),
    OpRule(
        op="GatherElements",
        source=f"{OPSRC} importGatherElements; docs/operators.md (GatherElements); {OBSERVED}",
        types={0: TENSOR, 1: INDEX},
    ),
    OpRule(
        op="GatherND",
        source=f"{OPSRC} importGatherND; docs/operators.md (GatherND); {OBSERVED}",
        types={0: TENSOR, 1: INDEX},
        check=_check_gather_nd,
    ),
    OpRule(
        op="Scatter",
        source=f"{OPSRC} importScatter (imported as ScatterElements); {OBSERVED}",
        types={0: TENSOR, 1: INDEX, 2: TENSOR},
    ),
    OpRule(
        op="ScatterElements",
        source=f"{OPSRC} importScatterElements; plugin/scatterElementsPlugin README; {OBSERVED}",
        types={0: TENSOR, 1: INDEX, 2: TENSOR},
        attrs=(
            AttrLimit("reduction", allowed={"none", "add", "mul", "max", "min"}, default="none"),
        ),
        check=_check_scatter_elements,
    ),
    OpRule(
        op="ScatterND",
        source=f"{OPSRC} importScatterND; docs/operators.md (ScatterND); {OBSERVED}",
        types={0: TENSOR, 1: INDEX, 2: TENSOR},
        attrs=(
            AttrLimit(
                "reduction",
                allowed={"none"},
                default="none",
                hint="rewrite the scatter-reduce as gather + arithmetic + plain ScatterND",
            ),
        ),
    ),
    OpRule(
        op="TensorScatter",
        source=f"{OBSERVED} (importer present in TensorRT-RTX 1.7; TensorRT release not verified)",
        since=Since(trt=(11, 0), rtx=(1, 7)),
        opsets=(24, None),
        types={0: TENSOR, 1: TENSOR, 2: INDEX},
        attrs=(
            AttrLimit(
                "mode",
                allowed={"linear"},
                default="linear",
                hint="use a linear KV cache, or update a circular one with ScatterND",
            ),
        ),
        check=_check_tensor_scatter,
    ),
]
