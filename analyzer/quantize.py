"""INT8 post-training quantization into the explicit (Q/DQ) form TensorRT takes.

Calibration is onnxruntime's (`quantize_static` with its entropy, min-max or percentile
calibrators), with the settings TensorRT imports: symmetric INT8 activations and weights (zero
points 0), per-channel weights, float biases, QDQ format. Q/DQ go where TensorRT fuses them:
the inputs of Conv, ConvTranspose, MatMul and Gemm, and residual Adds (an Add of two computed
tensors); bias Adds and everything else stay float. Models below opset 13 are converted to 13
first (per-channel DequantizeLinear needs its `axis`).

Before anything is written the result must pass `onnx.checker` (full), trt-check (static) must
find no node the target rejects that the float model did not already have, and the float and
quantized models are compared in onnxruntime on held-back samples: per output the cosine
similarity, the largest absolute error and, for classifier-like outputs, top-1 agreement.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import signal
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from trtforge.analyzer.errors import UserError, short
from trtforge.analyzer.rewrite.graphutil import overridable_initializers

log = logging.getLogger("trtforge.quantize")

#: ops whose inputs get Q/DQ (TensorRT fuses them into INT8 kernels)
QUANTIZED_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm")
METHODS = ("entropy", "minmax", "percentile")
MIN_OPSET = 13


@dataclass
class OutputAgreement:
    """How close one output of the quantized model is to the float model's."""

    name: str
    cosine: float
    max_abs_error: float
    top1_agreement: float | None  # classifier-like outputs only

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "cosine": self.cosine,
            "max_abs_error": self.max_abs_error,
            "top1_agreement": self.top1_agreement,
        }


@dataclass
class QuantizeResult:
    proto: onnx.ModelProto
    excluded: list[str]
    converted_from: int | None
    calibration_samples: int
    holdout_samples: int
    agreement: list[OutputAgreement] = field(default_factory=list)
    qdq_nodes: int = 0
    #: tensors no INT8 scale fits on a calibration sample (NaN, infinite, of EXTREME
    #: magnitude or denormal: `_unscalable`) that quantized nodes read or write: those nodes
    #: are among `excluded`
    non_finite: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "excluded_nodes": self.excluded,
            "non_finite_tensors": self.non_finite,
            "converted_from_opset": self.converted_from,
            "calibration_samples": self.calibration_samples,
            "holdout_samples": self.holdout_samples,
            "qdq_nodes": self.qdq_nodes,
            "outputs": [a.to_json() for a in self.agreement],
        }


#: the most an --exclude pattern may take over a model's node names (they are the model's,
#: as untrusted as it: a pattern that backtracks exponentially would never end on one)
PATTERN_SECONDS = 10.0


@contextlib.contextmanager
def _time_limit(seconds: float, error: Exception):
    """Raises `error` when the block runs longer than `seconds` (a real-time timer; Python's
    regular expression engine checks for signals while it matches). Without a limit off
    the main thread, where no signal can be handled."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum, frame):
        raise error

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def select_excluded(
    model: onnx.ModelProto,
    exclude: Iterable[str],
    keep_float_head: bool,
    overridable: Iterable[str] | None = None,
) -> list[str]:
    """Names of the nodes to keep in float.

    `exclude` items name nodes, op types, or (any other text) regular expressions matched
    against node names. `keep_float_head`: the last quantizable node on every path to a graph
    output (the classifier or detection head). Bias Adds (one constant input) are always
    float; only residual Adds are quantized. Nodes reading an overridable initializer (also a
    graph input: `overridable`, by default the model's own) stay float: its value is the
    caller's to give.
    """
    nodes = list(model.graph.node)
    names = {n.name for n in nodes}
    ops = {n.op_type for n in nodes}
    excluded: list[str] = []

    def add(name: str) -> None:
        if name and name not in excluded:
            excluded.append(name)

    for item in (x.strip() for spec in exclude for x in spec.split(",")):
        if not item:
            continue
        if item in names:
            add(item)
        elif item in ops:
            for n in nodes:
                if n.op_type == item:
                    add(n.name)
        else:
            try:
                pattern = re.compile(item)
            except re.error as err:
                raise UserError(
                    f"--exclude {item!r}: not a node name, op type or regular expression ({err})",
                    "name nodes, op types (Conv) or a pattern (e.g. 'head/.*')",
                ) from None
            with _time_limit(
                PATTERN_SECONDS,
                UserError(
                    f"--exclude {short(item)!r}: matching it against the node names takes more "
                    f"than {PATTERN_SECONDS:g} s (a pattern that backtracks without end, such as "
                    "'(a+)+$')",
                    "give a simpler pattern, node names, or op types",
                ),
            ):
                hits = [n.name for n in nodes if pattern.search(n.name)]
            if not hits:
                raise UserError(
                    f"--exclude {item!r}: matches no node name or op type",
                    "list node names with trt-check --format json",
                )
            for name in hits:
                add(name)
    if keep_float_head:
        for name in _head_nodes(model):
            add(name)
    constants = {i.name for i in model.graph.initializer} | {
        o for n in nodes if n.op_type == "Constant" for o in n.output
    }
    for n in nodes:
        if n.op_type == "Add" and any(i in constants for i in n.input):
            add(n.name)
    # an initializer that is also a graph input (IR 4 and later) is a default the caller may
    # feed, not a weight: quantized as one, it became a constant and the model lost the input
    kept = set(overridable_initializers(model) if overridable is None else overridable)
    for n in nodes:
        if kept.intersection(n.input):
            add(n.name)
    return excluded


def _head_nodes(model: onnx.ModelProto) -> list[str]:
    producer = {o: n for n in model.graph.node for o in n.output}
    found: list[str] = []
    for out in model.graph.output:
        stack, seen = [out.name], set()
        while stack:
            name = stack.pop()
            node = producer.get(name)
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            if node.op_type in QUANTIZED_OPS:
                if node.name not in found:
                    found.append(node.name)
                continue
            stack.extend(node.input)
    return found


def _methods() -> dict:
    from onnxruntime.quantization import CalibrationMethod

    return {
        "entropy": CalibrationMethod.Entropy,
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
    }


def given_names(nodes) -> list[str]:
    """The name of each of `nodes` once `named` has named them (the unnamed ones get
    `<op_type>_<index>`, made unique)."""
    taken = {n.name for n in nodes}
    names = []
    for i, node in enumerate(nodes):
        name = node.name
        if not name:
            name = f"{node.op_type}_{i}"
            while name in taken:
                name += "_"
            taken.add(name)
        names.append(name)
    return names


def named(model: onnx.ModelProto) -> onnx.ModelProto:
    """Gives unnamed nodes names (onnxruntime's exclusion list works by name)."""
    for node, name in zip(model.graph.node, given_names(model.graph.node), strict=True):
        node.name = name
    return model


class _Reader:
    """onnxruntime's CalibrationDataReader over a list of feeds, with a progress callback."""

    def __init__(self, feeds, progress: Callable[[int], None] | None):
        self._feeds = list(feeds)
        self._next = 0
        self._progress = progress

    def get_next(self):
        if self._next >= len(self._feeds):
            return None
        feed = self._feeds[self._next]
        self._next += 1
        if self._progress is not None:
            self._progress(self._next)
        return feed

    def rewind(self):  # onnxruntime calls it for some calibrators
        self._next = 0


def quantize(
    model: onnx.ModelProto,
    feeds: list[dict[str, np.ndarray]],
    method: str = "entropy",
    exclude: Iterable[str] = (),
    keep_float_head: bool = False,
    per_channel: bool = True,
    holdout: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> QuantizeResult:
    """Calibrates `model` (weights loaded) on `feeds` and returns the Q/DQ model.

    `holdout`: feeds kept back for the agreement report (default: a fifth, at least one when
    there are two or more feeds).
    """
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    if method not in METHODS:
        raise UserError(f"--method {method}: unknown", f"use one of {', '.join(METHODS)}")
    _refuse_quantized(model)
    if not feeds:
        raise UserError("no calibration samples", "give --calibration-data")
    if holdout is None:
        holdout = len(feeds) // 5 if len(feeds) >= 5 else (1 if len(feeds) >= 2 else 0)
    if holdout < 0:
        raise UserError(
            f"--holdout {holdout}: a count of samples cannot be negative",
            "give 0 (no accuracy report) or more held-back samples",
        )
    if holdout >= len(feeds):
        raise UserError(
            f"--holdout {holdout} leaves no calibration sample of {len(feeds)}",
            "give more samples or a smaller --holdout",
        )
    calibrate, held = feeds[: len(feeds) - holdout], feeds[len(feeds) - holdout :]
    working = onnx.ModelProto()
    working.CopyFrom(model)
    named(working)
    if not _quantizable(working, ()):  # (before converting: an ai.onnx.ml pipeline may
        raise _nothing_to_quantize(False)  # import no default-domain opset at all)
    opset = next((o.version for o in working.opset_import if o.domain in ("", "ai.onnx")), 0)
    converted_from = None
    if opset < MIN_OPSET:
        from trtforge.analyzer.opset_conversion import convert_version

        try:
            working = convert_version(working, MIN_OPSET)
        except Exception as err:  # noqa: BLE001 - the converter raises many types
            raise UserError(
                f"cannot convert the model from opset {opset} to {MIN_OPSET} for per-channel "
                f"Q/DQ ({type(err).__name__}: {str(err)[:160]})",
                "export the model at opset 13 or later",
            ) from None
        converted_from = opset
    # IR version 3 requires every initializer to be a graph input, which the calibrator's
    # own initializers are not (onnxruntime refused its augmented model: exit 3 on the onnx
    # wheel's PyTorch-converted models); the opset's own IR version does not
    working.ir_version = max(
        working.ir_version,
        onnx.helper.find_min_ir_version_for(
            [o for o in working.opset_import if o.domain in ("", "ai.onnx")]
        ),
    )
    _refuse_float16_weights(working)
    exclude = list(exclude)
    # (the input's: its IR version says whether they are defaults; the working copy's is raised)
    excluded = select_excluded(working, exclude, keep_float_head, overridable_initializers(model))
    if not _quantizable(working, excluded):
        raise _nothing_to_quantize(bool(exclude or keep_float_head))
    methods = _methods()
    non_finite: dict[str, tuple[str, int, str]] = {}
    kept_float_for: list[str] = []  # those of them that quantized nodes read or write
    with tempfile.TemporaryDirectory(prefix="trtforge-quantize-") as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        large = working.ByteSize() > 1_500_000_000
        typed = _with_contrib_types(working)
        onnx.save(typed, src, save_as_external_data=large, location="float.onnx.data")
        ranges = Path(tmp) / "ranges.json"

        def run(excluded: list[str], drop: Collection[str] = ()) -> onnx.ModelProto:
            reader = _Reader(
                calibrate, (lambda i: progress(i, len(calibrate))) if progress else None
            )
            _calibrate(src, Path(tmp), reader, methods[method], ranges, drop)
            quantize_static(
                str(src),
                str(dst),
                None,
                calibration_cache_path=str(ranges),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=[*QUANTIZED_OPS, "Add"],
                per_channel=per_channel,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=excluded,
                calibrate_method=methods[method],
                extra_options={
                    "ActivationSymmetric": True,
                    "WeightSymmetric": True,
                    "QuantizeBias": False,
                    "AddQDQPairToWeight": False,
                },
            )
            proto = onnx.load(dst)
            _check_scales(proto)
            return proto

        with _quiet_onnxruntime():
            try:
                proto = run(excluded)
            except (ValueError, AssertionError, OverflowError) as err:
                if not _NON_FINITE.search(" ".join(str(err).split())):
                    raise
                # keep in float the nodes that would quantize a tensor no INT8 scale fits
                # (a causal mask's -inf, a Log of zero), and quantize the rest
                non_finite = _non_finite_tensors(src, calibrate)
                keep, kept_float_for = _quantizing(working, non_finite)
                if not non_finite or not _quantizable(working, [*excluded, *keep]):
                    raise _non_finite_error(err, non_finite) from None
                excluded = [*excluded, *(name for name in keep if name not in excluded)]
                try:
                    proto = run(excluded, drop=non_finite)
                except (ValueError, AssertionError, OverflowError) as again:
                    if not _NON_FINITE.search(" ".join(str(again).split())):
                        raise
                    raise _non_finite_error(again, non_finite) from again
    result = QuantizeResult(
        proto,
        excluded,
        converted_from,
        len(calibrate),
        len(held),
        qdq_nodes=sum(
            n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in proto.graph.node
        ),
        non_finite=kept_float_for,
    )
    if held:
        result.agreement = agreement(working, proto, held)
    return result


#: histogram settings per method. onnxruntime's quantize_static builds its entropy calibrator
#: with 128 bins and 128 quantized bins, which leaves one candidate threshold (the full range:
#: the same scales as minmax); TensorRT's entropy calibration searches 2048 bins for the
#: threshold of 128 quantized ones, so the calibrator is run here with those settings.
HISTOGRAM = {
    "entropy": {"num_bins": 2048, "num_quantized_bins": 128},
    "percentile": {"num_bins": 2048, "percentile": 99.999},
    "minmax": {},
}


def _calibrate(
    src: Path, tmp: Path, reader, method, ranges: Path, drop: Collection[str] = ()
) -> None:
    """Runs onnxruntime's calibrator for `method` and saves the tensor ranges where
    quantize_static reads them (`calibration_cache_path`); without the tensors `drop`
    (ones that are not finite: a histogram of them raises, and nothing quantizes them)."""
    from onnxruntime.quantization.calibrate import (
        TensorsData,
        create_calibrator,
        save_tensors_data,
    )

    from trtforge.analyzer.entropy_search import entropy_search_replaced

    name = {v: k for k, v in _methods().items()}[method]
    with _onnxruntime_failure(
        "onnxruntime cannot load the model to calibrate it",
        "trt-quantize calibrates in onnxruntime: the model must run there (trt-check still "
        "checks it)",
    ):
        calibrator = create_calibrator(
            src,
            [*QUANTIZED_OPS, "Add"],
            augmented_model_path=str(tmp / "augmented.onnx"),
            calibrate_method=method,
            use_external_data_format=src.with_suffix(".onnx.data").exists(),
            extra_options={"symmetric": True, **HISTOGRAM[name]},
        )
    selected = getattr(calibrator, "tensors_to_calibrate", None)
    if isinstance(selected, set):  # the histogram calibrators
        selected -= set(drop)
        if not selected:
            raise UserError(
                f"calibration ({name}): onnxruntime's histogram calibrator finds no float "
                "tensor of a quantizable node whose type it knows",
                "use --method minmax, or quantize the model before onnxruntime's transformer "
                "optimizer fuses its ops",
            )
    with (
        _onnxruntime_failure(
            "onnxruntime cannot run the model on the calibration samples",
            "give samples the model runs on (--calibration-data), shaped as in use",
        ),
        _histograms_of_any_shapes(),
    ):
        calibrator.collect_data(reader)
    with entropy_search_replaced():  # the same thresholds, in a fraction of the time
        data = calibrator.compute_data()
    if drop:
        kept = {name: value for name, value in data.items() if name not in drop}
        data = TensorsData(data.calibration_method, kept)
    save_tensors_data(data, ranges)


@contextlib.contextmanager
def _histograms_of_any_shapes():
    """onnxruntime's histogram collector (entropy, percentile) stacks a tensor's values of
    all samples into one array: samples whose dynamic dims differ (sentences of different
    lengths, a detector's box counts) raised "inhomogeneous shape". A histogram reads values
    only, so each tensor's samples are handed over flattened into one array: the same
    histograms where the shapes agree."""
    from onnxruntime.quantization.calibrate import HistogramCollector

    original = HistogramCollector.collect

    def collect(self, name_to_arr):
        flat = {}
        for name, arrays in name_to_arr.items():
            if isinstance(arrays, list) and len({np.shape(a) for a in arrays}) > 1:
                arrays = [np.concatenate([np.asarray(a).ravel() for a in arrays])]
            flat[name] = arrays
        return original(self, flat)

    HistogramCollector.collect = collect
    try:
        yield
    finally:
        HistogramCollector.collect = original


def _with_contrib_types(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` with an element type declared (value_info without a shape) for each tensor ONNX
    shape inference leaves untyped and onnxruntime's symbolic inference types
    (`inference.symbolic_types`: the outputs of com.microsoft ops and what follows them).
    onnxruntime's histogram calibrators select only tensors with a FLOAT/FLOAT16 value_info
    after ONNX's inference, so a model its transformer optimizer fused had none of them
    ("Histogram has not been collected"); `model` itself where nothing is added."""
    from trtforge.analyzer.inference import infer_types, symbolic_types

    if all(node.domain in ("", "ai.onnx") for node in model.graph.node):
        return model
    known = infer_types(model)  # (the policy's run, without the weights)
    untyped = {o for node in model.graph.node for o in node.output if o and o not in known}
    with _quiet_onnxruntime():
        found = symbolic_types(model, untyped)
    added = [
        (name, value.tensor_type.elem_type)
        for name, value in found.items()
        if value.HasField("tensor_type") and value.tensor_type.elem_type
    ]
    if not added:
        return model
    typed = onnx.ModelProto()
    typed.CopyFrom(model)
    typed.graph.value_info.extend(
        onnx.helper.make_tensor_value_info(name, elem, None) for name, elem in added
    )
    return typed


#: how onnxruntime's calibrator and quantizer fail on a range that is not finite
_NON_FINITE = re.compile(
    r"not finite|scale issue|finite-sized bins|denormal|\b(nan|inf)\b", re.IGNORECASE
)

#: magnitude from which a float32 tensor has no INT8 scale either: twice it overflows, which
#: the histogram calibrators' symmetric range does ("Cannot create 2048 finite-sized bins").
#: An attention mask of the lowest float (`torch.finfo(float32).min`, every Hugging Face
#: BERT, DistilBERT and GPT-2 export) added to the scores reaches it; a scale from it would
#: round every score to zero.
EXTREME = float(np.finfo(np.float32).max) / 2

#: magnitude below which a float32 tensor that is not all zeros has no INT8 scale either: its
#: scale would be a denormal, and the 2048 bins of its symmetric range are not finite-sized
#: in float32 (numpy refuses them alike: "Cannot create 2048 finite-sized bins"). A tiny
#: random EfficientNet's squeeze-excite computes such tensors (max |x| 4.9e-44).
TINY = float(np.finfo(np.float32).tiny) * 2048


def _non_finite_error(err: BaseException, found: dict[str, tuple[str, int, str]]) -> UserError:
    """The error for onnxruntime's calibrator or quantizer failing on an activation whose
    observed range is not finite (finite samples, `calibration.check_feeds`, can still make
    NaN or infinity inside a model: a Log of zero, a division by zero) when keeping the nodes
    that quantize such tensors in float leaves nothing to quantize, or does not help.
    onnxruntime says so only through numpy's histogram ("range of [nan, nan] is not finite")
    or an assertion ("scale issue"); the error names the first such tensor (`found`:
    `_non_finite_tensors`)."""
    text = " ".join(str(err).split())
    if found:
        name, (producer, sample, kind) = next(iter(found.items()))
        where = f"tensor '{short(name)}' ({producer}) is {kind} on calibration sample {sample}"
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        return UserError(
            f"calibration: {where}{more}; no INT8 scale fits it, and no node is left to "
            "quantize without it",
            _NON_FINITE_HINT,
        )
    return UserError(
        f"calibration: a tensor took NaN or infinite values (onnxruntime: {text[:120]}); "
        "no INT8 scale fits it",
        _NON_FINITE_HINT,
    )


_NON_FINITE_HINT = (
    "calibrate on data on which the model stays finite, or fix the model (e.g. clamp the input "
    "of a Log, Sqrt or Div)"
)


def _is_quantized_op(op_type: str) -> bool:
    """Whether `op_type` computes on quantized data: Q/DQ, onnxruntime's QLinear*, *Integer
    and DynamicQuantize* ops, its quantized contrib ops (QAttention, QGemm, QOrdered*,
    MatMulNBits, MatMulBnb4, GatherBlockQuantized…)."""
    return (
        op_type in ("QuantizeLinear", "DequantizeLinear", "QAttention", "QGemm", "MatMulBnb4")
        or op_type.startswith(("QLinear", "QOrdered", "DynamicQuantize", "QEmbed"))
        or op_type.endswith(("Integer", "NBits", "BlockQuantized", "IntegerToFloat"))
    )


@contextlib.contextmanager
def _onnxruntime_failure(message: str, hint: str):
    """onnxruntime's own errors inside as a UserError: `message`, then onnxruntime's reason."""
    try:
        yield
    except Exception as err:  # noqa: BLE001 - onnxruntime's own error types
        if not type(err).__module__.startswith("onnxruntime"):
            raise
        raise UserError(f"{message} ({' '.join(str(err).split())[:200]})", hint) from None


def _nothing_to_quantize(asked: bool) -> UserError:
    """The error for a model without a node of QUANTIZED_OPS (`asked`: outside what the user
    excluded)."""
    return UserError(
        f"nothing to quantize: no {', '.join(QUANTIZED_OPS[:-1])} or {QUANTIZED_OPS[-1]} node "
        "in the model's graph" + (" outside --exclude/--keep-float" if asked else ""),
        "trt-quantize gives INT8 to convolutions and matrix products (ai.onnx.ml ops, "
        "scikit-learn pipelines, are not quantized); TensorRT builds the model as it is",
    )


def _refuse_float16_weights(model: onnx.ModelProto) -> None:
    """A UserError for a model whose Conv/MatMul/Gemm weights are FLOAT16 below opset 19:
    onnxruntime's quantizer gives them FLOAT16 scales, which DequantizeLinear takes only
    from opset 19 (the result did not load: every onnxruntime-optimized fp16 transformer
    of the fixability corpus)."""
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset >= 19:
        return
    halves = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT16}
    reading = [n for n in model.graph.node if n.op_type in QUANTIZED_OPS and halves & {*n.input}]
    if reading:
        raise UserError(
            f"the model's weights are FLOAT16 ({reading[0].op_type} '{short(reading[0].name)}'"
            f" and {len(reading) - 1} more) at opset {opset}: onnxruntime's quantizer would give"
            " them FLOAT16 scales, which DequantizeLinear takes only from opset 19",
            "quantize the model's FLOAT32 export (trt-build --fp16 runs the layers left "
            "float in FP16)",
        )


def _refuse_quantized(model: onnx.ModelProto) -> None:
    """A UserError for a model that is quantized already (calibrating it again would stack a
    second quantization on the first, and onnxruntime's quantizer fails on most such
    graphs: exit 3 on the fixability corpus's quantized exports)."""
    found = Counter(n.op_type for n in model.graph.node if _is_quantized_op(n.op_type))
    if found:
        ops = ", ".join(f"{op} ×{count}" for op, count in found.most_common(4))
        raise UserError(
            f"the model is quantized already ({ops}); trt-quantize calibrates float models",
            "TensorRT takes explicit Q/DQ as they are (trt-check says whether it takes these);"
            " trt-rewrite --requantize converts onnxruntime's quantized forms; to calibrate "
            "anew, quantize the float model",
        )


def _quantizing(model: onnx.ModelProto, tensors: Collection[str]) -> tuple[list[str], list[str]]:
    """(the names of the nodes of the op types trt-quantize quantizes that read or write one
    of `tensors`, in node order — onnxruntime puts Q/DQ on those nodes' activations; those of
    `tensors` such nodes touch, in their order)."""
    ops, wanted = {*QUANTIZED_OPS, "Add"}, set(tensors)
    nodes, touched = [], set()
    for node in model.graph.node:
        if node.op_type in ops:
            found = wanted.intersection([*node.input, *node.output])
            if found:
                nodes.append(node.name)
                touched |= found
    return nodes, [name for name in tensors if name in touched]


def _quantizable(model: onnx.ModelProto, excluded: Collection[str]) -> bool:
    """Whether some node of QUANTIZED_OPS is not in `excluded` (Adds alone are not worth a
    quantized model)."""
    return any(n.op_type in QUANTIZED_OPS and n.name not in excluded for n in model.graph.node)


def _check_scales(proto: onnx.ModelProto) -> None:
    """Raises ValueError ("not finite": the quantizer failing on such a range) when a Q/DQ scale of
    the quantized model is not a finite positive number: onnxruntime's minmax calibration
    writes a scale of inf, without an error, for a tensor that was infinite on one sample,
    and a denormal one for a tensor of denormals (every value then rounds to zero)."""
    from onnx import numpy_helper

    scales = {
        node.input[1]
        for node in proto.graph.node
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 1
    }
    for tensor in proto.graph.initializer:
        if tensor.name in scales:
            value = numpy_helper.to_array(tensor)
            if not (np.isfinite(value).all() and (value > 0).all()):
                raise ValueError(f"scale '{tensor.name}' is not finite and positive")
            if (value > EXTREME / 255).any():  # minmax's: no error, the range of a mask
                raise ValueError(f"scale '{tensor.name}' spans a range that is not finite")
            if (value < TINY / 255).any():  # minmax's: no error, a range of denormals
                raise ValueError(f"scale '{tensor.name}' is a denormal")


def _unscalable(value: np.ndarray) -> str:
    """Why no INT8 scale fits the float tensor `value` ("NaN", "infinite", or its magnitude
    from EXTREME or below TINY); "" when one does."""
    if value.size == 0:
        return ""
    if not np.isfinite(value).all():
        return "NaN" if np.isnan(value).any() else "infinite"
    largest = float(np.abs(value).max())
    if largest > EXTREME:
        return f"as large as {largest:.3g} (a mask of the lowest float?)"
    if 0 < largest < TINY:
        return f"at most {largest:.3g} in magnitude (float32 denormals)"
    return ""


def _non_finite_tensors(src: Path, feeds) -> dict[str, tuple[str, int, str]]:
    """Every float tensor of the model file `src` that no INT8 scale fits on one of `feeds`
    (`_unscalable`: NaN, infinite, of EXTREME magnitude or denormal), in node order: name -> (its
    producer, the first such sample, why); empty when none is found (or the model cannot be
    run so)."""
    import onnxruntime as ort

    found: dict[str, tuple[str, int, str]] = {}

    try:
        model = onnx.shape_inference.infer_shapes(onnx.load(src))
        floats = {
            vi.name
            for vi in (*model.graph.value_info, *model.graph.output)
            if vi.type.tensor_type.elem_type
            in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE)
        }
        order, producers = [], {}
        for node in model.graph.node:
            for name in node.output:
                if name in floats and name not in producers:
                    producers[name] = f"output of {node.op_type} node '{short(node.name)}'"
                    order.append(name)
        declared = {vi.name for vi in model.graph.output}
        for name in order:
            if name not in declared:
                model.graph.output.append(onnx.ValueInfoProto(name=name))
        session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        for index, feed in enumerate(feeds):
            values = dict(zip(order, session.run(order, feed), strict=True))
            for name in order:
                value = np.asarray(values[name])
                if name not in found and (kind := _unscalable(value)):
                    found[name] = (producers[name], index, kind)
    except Exception as err:  # noqa: BLE001 - the error is raised anyway
        log.info("could not find the non-finite tensors: %s", err)
        return {}
    return {name: found[name] for name in order if name in found}


@contextlib.contextmanager
def _quiet_onnxruntime():
    """onnxruntime's quantizer prints progress with print() and warns through the root logger,
    and numpy warns of the overflow in a histogram of a tensor no scale fits (which the
    command then keeps float and reports); trt-quantize reports for itself (stdout stays
    clean for pipes)."""
    import onnxruntime

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    # the sessions onnxruntime's calibrator opens log a failing node to stderr, its name as
    # the model has it (control characters too): the failure is reported as one line instead
    onnxruntime.set_default_logger_severity(4)
    try:
        with (
            contextlib.redirect_stdout(io.StringIO()),
            np.errstate(over="ignore", invalid="ignore"),
        ):
            yield
    finally:
        onnxruntime.set_default_logger_severity(2)  # onnxruntime's default (warnings)
        root.setLevel(level)


def agreement(
    reference: onnx.ModelProto, quantized: onnx.ModelProto, feeds: list[dict[str, np.ndarray]]
) -> list[OutputAgreement]:
    """Per output: cosine similarity and largest |error| over all feeds; top-1 agreement for
    float outputs whose last dim holds more than one class score. Outputs of labels (integer,
    boolean or string elements) agree element by element (`_label_agreement`); a float
    output whose shape differs on some feed (a detector's count of boxes) has cosine 0."""
    from trtforge.analyzer.rewrite.verify import run_model

    ref = [run_model(reference, f) for f in feeds]
    got = [run_model(quantized, f) for f in feeds]
    out = []
    for value in reference.graph.output:
        a = [_values(r[value.name]) for r in ref]
        b = [_values(g[value.name]) for g in got]
        if any(x.dtype.kind in "biuOSU" for x in a + b):
            out.append(_label_agreement(value.name, a, b))
            continue
        a = [x.astype(np.float64) for x in a]
        b = [x.astype(np.float64) for x in b]
        if any(x.shape != y.shape for x, y in zip(a, b, strict=True)):
            largest = max((float(np.max(np.abs(x), initial=0.0)) for x in a + b), default=0.0)
            out.append(OutputAgreement(value.name, 0.0, largest, None))
            continue
        flat_a = np.concatenate([x.reshape(-1) for x in a])
        flat_b = np.concatenate([x.reshape(-1) for x in b])
        norm = np.linalg.norm(flat_a) * np.linalg.norm(flat_b)
        cosine = float(flat_a @ flat_b / norm) if norm > 0 else float(np.array_equal(a, b))
        top1 = None
        if a[0].ndim >= 2 and a[0].shape[-1] > 1:
            hits = [
                np.mean(np.argmax(x, -1) == np.argmax(y, -1)) for x, y in zip(a, b, strict=True)
            ]
            top1 = float(np.mean(hits))
        out.append(
            OutputAgreement(
                value.name, cosine, float(np.max(np.abs(flat_a - flat_b), initial=0.0)), top1
            )
        )
    return out


def _values(value) -> np.ndarray:
    """One output's value as an array: a sequence of maps (ZipMap) as its [rows, labels]
    array, a sequence of tensors as their concatenation."""
    from trtforge.analyzer.rewrite.verify import maps_as_array

    value = maps_as_array(value)
    if isinstance(value, list):
        parts = [np.asarray(v).reshape(-1) for v in value]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return np.asarray(value)


def _label_agreement(name: str, ref: list[np.ndarray], got: list[np.ndarray]) -> OutputAgreement:
    """An output of labels, indices or flags (integer, boolean or string elements): each
    element counts as a one-hot vector over its values, so the cosine is the fraction of
    equal elements (also its top-1 agreement) and the largest error 1 where one differs."""
    total = sum(x.size for x in ref)
    equal = sum(
        int(np.count_nonzero(x == y)) for x, y in zip(ref, got, strict=True) if x.shape == y.shape
    )
    fraction = (
        equal / total
        if total
        else float(all(x.shape == y.shape for x, y in zip(ref, got, strict=True)))
    )
    return OutputAgreement(name, fraction, 0.0 if fraction == 1.0 else 1.0, fraction)
