"""Resize, Upsample.

Sources: onnx-tensorrt docs/operators.md (Resize: supported coordinate transformation modes
half_pixel, pytorch_half_pixel, tf_half_pixel_for_nn, asymmetric, align_corners; modes nearest,
linear (cubic in newer parsers); aspect-ratio policy `stretch` only; with a `scales` tensor
input, `axes` must be an iota of the input rank; no antialiasing) and onnxOpImporters.cpp
importResize / importUpsample (linear resize only on the innermost 3 dims, cubic on the
innermost 2, when scales are constant; BOOL/UINT8 data refused); observed with the
TensorRT-RTX 1.7.1 parser:
- INT32/INT64 data is refused ("first input has type Int32 but must have type Float, Half, ...").
- A FLOAT `scales` network input fails ("Network input scales is a shape tensor and must have
  type Int32 or Int64"); scales computed from shapes, and `sizes` network inputs, are accepted.
  So are FLOAT scales of dynamic length (a 1-D tensor whose length is symbolic), network
  input or computed from data alike; of static length, unknown rank or rank 0 they fail
  (probes `resize_scales_dynlen_*`, `upsample_scales_dynlen_*`).
- half_pixel_symmetric and tf_crop_and_resize are refused; cubic, exclude_outside,
  cubic_coeff_a and every nearest_mode are accepted, but for tf_half_pixel_for_nn, which
  takes round_prefer_floor only (importResize's check: "only support round_prefer_floor
  nearest mode in tf_half_pixel_for_nn"; tf2onnx writes nearest_mode=floor for
  `tf.image.resize(method="nearest")`; hold-out round 4 and its probes, every mode).
- Constant `sizes` with an `axes` attribute fail when an axis outside `axes` is dynamic (the
  parser fills it with -1); `sizes` of dynamic length fail.
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._compute import is_dynamic_dim, is_weights
from trtforge.analyzer.kb.ops._tensor_common import (
    INTERPOLATABLE,
    OBSERVED,
    OPSRC,
    float_value_input,
    output_dims_fit,
    shape_input,
    static_length,
)
from trtforge.analyzer.kb.rule import AttrLimit, NodeContext, OpRule

SOURCE = f"{OPSRC} importResize; docs/operators.md (Resize); {OBSERVED}"
MODES = {"align_corners", "asymmetric", "half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn"}
#: interpolation mode -> how many innermost dims it may scale (importerUtils canUseNDResize).
MAX_SCALED_DIMS = {"linear": 3, "bilinear": 3, "cubic": 2}


def _scaled_dims_finding(ctx: NodeContext, mode: str, scales, axes):
    limit = MAX_SCALED_DIMS.get(mode)
    if limit is None or scales is None:
        return None
    if scales.dtype.kind not in "fiu" and scales.dtype.name != "bfloat16":
        return None  # not real numbers (STRING or COMPLEX64 scales: the types say so)
    values = [float(v) for v in scales.reshape(-1)]
    info = ctx.input(0)
    rank = info.rank if info is not None else None
    if axes and rank is not None and len(axes) == len(values):
        full = [1.0] * rank
        for axis, value in zip(axes, values, strict=True):
            full[axis % rank] = value
    else:
        full = values
    if len(values) <= limit:
        return None
    outer = [v for v in full[: len(values) - limit] if v != 1.0]
    if not outer:
        return None
    return ctx.finding(
        "scaled-dims",
        f"{mode} resize may only scale the innermost {limit} dims (scales {values})",
        "keep scale 1 on the outer dims (e.g. reshape to fold them), or use mode='nearest'",
    )


def _axes_sizes_dynamic(ctx: NodeContext, axes):
    """Constant `sizes` for a subset of `axes`: the parser completes the sizes of the other
    axes with their build-time dims, so a dynamic one becomes -1 and the output gets a negative
    length ("Tensor … has axis 0 with inherently negative length"). Observed with TensorRT-RTX
    1.7.1 (held-out const+dynamic variant and probes); `sizes` as a network input, or dynamic
    dims on the resized axes, parse."""
    x = ctx.input(0)
    if not axes or x is None or x.shape is None or not is_weights(ctx, 3):
        return
    rank = len(x.shape)
    listed = {int(a) + rank if int(a) < 0 else int(a) for a in axes}
    dynamic = [i for i, d in enumerate(x.shape) if i not in listed and is_dynamic_dim(x, d)]
    if dynamic:
        yield ctx.finding(
            "axes-sizes-dynamic-dim",
            f"constant sizes for axes {list(axes)} while axis {dynamic[0]} of the input "
            f"{list(x.shape)} is dynamic; the parser fills that axis with -1",
            "give sizes for every axis (drop `axes`), or compute sizes from the input's shape",
        )


def _scales_of_dynamic_length(ctx: NodeContext, index: int) -> bool:
    """True when `scales` is 1-D with a length not known at build time: the parser then takes
    the scales as a runtime tensor instead of computing output dims from their values."""
    info = ctx.input(index)
    return (
        info is not None
        and info.shape is not None
        and len(info.shape) == 1
        and is_dynamic_dim(info, info.shape[0])
    )


def _tf_nearest_mode(ctx: NodeContext):
    """tf_half_pixel_for_nn with a nearest_mode other than round_prefer_floor (the default)."""
    transform = ctx.attr("coordinate_transformation_mode", "half_pixel")
    nearest = ctx.attr("nearest_mode", "round_prefer_floor")
    if isinstance(transform, bytes):
        transform = transform.decode("utf-8", "replace")
    if isinstance(nearest, bytes):
        nearest = nearest.decode("utf-8", "replace")
    if (
        ctx.attr("mode", "nearest") in ("nearest", b"nearest")
        and transform == ("tf_half_pixel_for_nn")
        and nearest != "round_prefer_floor"
    ):
        yield ctx.finding(
            "tf-half-pixel-nearest-mode",
            f"coordinate_transformation_mode=tf_half_pixel_for_nn with nearest_mode={nearest!r}: "
            "the parser takes round_prefer_floor only in that mode",
            "re-export with nearest_mode round_prefer_floor, or coordinate_transformation_mode "
            "asymmetric/half_pixel (tf.image.resize(method='nearest') with half_pixel_centers "
            "exports this form)",
        )


def _check_resize(ctx: NodeContext):
    yield from _tf_nearest_mode(ctx)
    if ctx.opset >= 11 and ctx.has_input(3):
        # given as sizes (observed with TensorRT-RTX 1.7.1: 2^31 fails; given as scales, the
        # same output size parses and builds)
        yield from output_dims_fit(ctx)
    mode = ctx.attr("mode", "nearest")
    axes = ctx.attr("axes")
    scales_index = 2 if ctx.opset >= 11 else 1
    has_sizes = ctx.opset >= 11 and ctx.has_input(3)
    if has_sizes:
        length = static_length(ctx, 3, "sizes")
        if length is not None:
            yield length
        finding = shape_input(ctx, 3, "sizes")
        if finding is not None:
            yield finding
        yield from _axes_sizes_dynamic(ctx, axes)
        return
    if not ctx.has_input(scales_index):
        return
    info = ctx.input(scales_index)
    if info.is_constant:
        finding = _scaled_dims_finding(ctx, mode, ctx.input_value(scales_index), axes)
        if finding is not None:
            yield finding
        return
    rank = ctx.input(0).rank if ctx.input(0) is not None else None
    if axes and (rank is None or list(a % rank for a in axes) != list(range(rank))):
        yield ctx.finding(
            "axes",
            f"axes={list(axes)} with a non-constant scales tensor is not supported (only an "
            "iota of the input rank is)",
            "make scales an initializer, or drop `axes` and give one scale per dim",
        )
    if _scales_of_dynamic_length(ctx, scales_index):
        return
    finding = float_value_input(ctx, scales_index, "scales")
    if finding is not None:
        yield finding


def _check_upsample(ctx: NodeContext):
    mode = ctx.attr("mode", "nearest")
    if ctx.opset < 9:
        scales = ctx.attr("scales")
        if scales is not None:
            import numpy as np

            finding = _scaled_dims_finding(ctx, mode, np.asarray(scales), None)
            if finding is not None:
                yield finding
        return
    if not ctx.has_input(1):
        return
    info = ctx.input(1)
    if info.is_constant:
        if info.dtype not in ("FLOAT", "UNDEFINED"):
            yield ctx.finding(
                "scales-type",
                f"constant scales must be FLOAT ({info.dtype})",
                "store the scales as FLOAT",
            )
        finding = _scaled_dims_finding(ctx, mode, ctx.input_value(1), None)
        if finding is not None:
            yield finding
        return
    if _scales_of_dynamic_length(ctx, 1):
        return
    finding = float_value_input(ctx, 1, "scales")
    if finding is not None:
        yield finding


RULES = [
    OpRule(
        op="Resize",
        source=SOURCE,
        types={0: INTERPOLATABLE},
        attrs=(
            AttrLimit(
                "coordinate_transformation_mode",
                allowed=MODES,
                default="half_pixel",
                code="coordinate-transformation-mode",
                hint="re-export with half_pixel, pytorch_half_pixel, asymmetric or align_corners",
            ),
            AttrLimit(
                "antialias",
                allowed={0},
                default=0,
                hint="resize without antialiasing (e.g. torch interpolate antialias=False), or "
                "blur explicitly before resizing",
            ),
            AttrLimit(
                "keep_aspect_ratio_policy",
                allowed={"stretch"},
                default="stretch",
                code="keep-aspect-ratio-policy",
                hint="compute the target sizes in the exporter and use the default 'stretch'",
            ),
            AttrLimit("mode", allowed={"nearest", "linear", "cubic"}, default="nearest"),
        ),
        check=_check_resize,
    ),
    OpRule(
        op="Upsample",
        source=f"{OPSRC} importUpsample; docs/operators.md (Upsample); {OBSERVED}",
        types={0: INTERPOLATABLE},
        check=_check_upsample,
    ),
]
