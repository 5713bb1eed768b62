"""requantize: onnxruntime-quantized graphs → the explicit quantization TensorRT takes, or exact
float arithmetic where no static quantization exists.

TensorRT imports QuantizeLinear/DequantizeLinear only with INT8 (or FP8/INT4/FP4) data, zero
points of 0 and positive scales, and has no importer for the integer ops onnxruntime's
quantizers write (knowledge base, `quantization.py`). This pass rewrites every such node:

* `--requantize-form qdq` (default): each statically quantized tensor (a QuantizeLinear, or a
  QLinear* op's output, with constant scale and zero point) becomes symmetric INT8 Q/DQ with the
  same real range (scale' = max(|qmin-zp|, |qmax-zp|)·scale/127), quantized weights become
  symmetric INT8 per channel (Conv: output channels; MatMul/Gemm: output columns), INT32
  biases become float, and every QLinear*/…Integer op becomes its float op between DQ and Q —
  the form TensorRT fuses into INT8 kernels. The quantization grid of asymmetric UINT8 tensors
  changes (up to twice as coarse), so outputs move by a few quantization steps.
* `--requantize-form float`: every quantized tensor is computed exactly in float arithmetic
  (Round/Clip emulate QuantizeLinear; values match onnxruntime's integer kernels to float
  rounding), for targets or models where INT8 is not wanted.

DynamicQuantizeLinear has no build-time scale, so its tensors (and the MatMulInteger/
ConvInteger ops that read them, `quantize_dynamic`'s output) are always emulated in float.

Before (onnxruntime `quantize_static`, QOperator and QDQ formats)::

    xq = QuantizeLinear(x, 0.02, 128:uint8)
    yq = QLinearConv(xq, 0.02, 128, wq:uint8[…], ws, wzp, 0.05, 120, b:int32)
    y  = DequantizeLinear(yq, 0.05, 120)

After (qdq)::

    x' = DequantizeLinear(QuantizeLinear(x, s1, 0:int8), s1, 0)     # s1 = 128·0.02/127
    w' = DequantizeLinear(w8:int8[…], sw[C], axis=0)                 # per output channel
    y' = Conv(x', w', b·0.02·ws)                                     # float bias
    y  = DequantizeLinear(QuantizeLinear(y', s2, 0:int8), s2, 0)      # s2 = 135·0.05/127

Before (`quantize_dynamic`)::

    xq, s, zp = DynamicQuantizeLinear(x)
    y = Mul(Cast<to=FLOAT>(MatMulInteger(xq, wq, zp, wzp)), Mul(s, ws))

After (float, both forms)::

    s  = (Max(ReduceMax(x), 0) - Min(ReduceMin(x), 0)) / 255   (1 where that range is 0)
    zp = Clip(Round(-Min(ReduceMin(x), 0) / s), 0, 255)
    xq = Clip(Round(x / s) + zp, 0, 255)                             # integral float values
    y  = Mul(MatMul(xq - zp, w - wzp), Mul(s, ws))

16-bit quantized tensors (INT16/UINT16 Q/DQ) are computed in float in both forms (exact).

Skips (reported, node left as it is): block quantization (block_size), 4-bit types, a
constant quantization scale holding a zero or NaN (quantizing by it is undefined where
x / scale is NaN), scales or
zero points that are not constants where a constant is needed (qdq form: the tensor is emulated
in float instead), per-row/per-column parameters on operands of unknown rank,
QLinear ops with channels-last layouts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import (
    PassContext,
    PassOption,
    PassOutcome,
    RewritePass,
    Skip,
    detach,
)
from trtforge.analyzer.rewrite.graphutil import (
    anchor,
    attr_text,
    const_value,
    graph_output_names,
    through_identities,
)

np = lazy_import("numpy")
onnx = lazy_import("onnx")
gs = lazy_import("onnx_graphsurgeon")

log = logging.getLogger("trtforge.rewrite")

#: how many steps of the new quantization grid an output of the qdq form may move, relative to
#: the original quantized model (each requantized tensor rounds to a grid up to twice as
#: coarse; errors of a few layers add up). `--requantize-form float` is exact instead.
QDQ_STEPS = 4

MS = "com.microsoft"

#: integer ops with no TensorRT importer, by (domain, op): what they compute in float.
INTEGER_OPS = {
    ("", "DynamicQuantizeLinear"),
    ("", "MatMulInteger"),
    ("", "ConvInteger"),
    ("", "QLinearConv"),
    ("", "QLinearMatMul"),
    (MS, "QLinearAdd"),
    (MS, "QLinearMul"),
    (MS, "QLinearSigmoid"),
    (MS, "QLinearSoftmax"),
    (MS, "QLinearLeakyRelu"),
    (MS, "QLinearGlobalAveragePool"),
    (MS, "QLinearAveragePool"),
    (MS, "QLinearConcat"),
    (MS, "QGemm"),
    (MS, "DynamicQuantizeMatMul"),
    (MS, "MatMulIntegerToFloat"),
}

#: ops that move or select elements without changing them: they commute with a per-tensor
#: quantization, so they run on the float value (qdq) or on the integral value (float form).
MOVERS = {
    "Reshape",
    "Transpose",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Identity",
    "Slice",
    "Gather",
    "Expand",
    "Tile",
    "DepthToSpace",
    "SpaceToDepth",
    "MaxPool",
    "Split",
    "GatherElements",
    "GatherND",
    "ReduceMax",
    "ReduceMin",
    "Resize",
    "Pad",
}


def _movement(node: gs.Node) -> str | None:
    """How a MOVERS node treats its data's elements: "select" (moves or picks them: Resize
    to the nearest, Pad that repeats or mirrors), "interpolate" (a Resize that computes new
    values between them), or None (a Pad with a constant, which is a value of the integer
    type; a Resize that fills with an extrapolation value of the float domain)."""
    if node.op == "Resize":
        if attr_text(node.attrs.get("coordinate_transformation_mode", "")) == (
            "tf_crop_and_resize"
        ):
            return None
        return (
            "select"
            if attr_text(node.attrs.get("mode", "nearest")) == "nearest"
            else ("interpolate")
        )
    if node.op == "Pad":
        edge = attr_text(node.attrs.get("mode", "constant")) in ("edge", "reflect", "wrap")
        return "select" if edge else None
    return "select"


#: integer types this pass understands, with their ranges. 16-bit tensors (onnxruntime's
#: `quantize_static(activation_type=QInt16/QUInt16)`) are always computed in float, exactly:
#: TensorRT has no 16-bit quantization and an INT8 grid would be 256 times as coarse.
RANGES = {
    "uint8": (0, 255),
    "int8": (-128, 127),
    "uint16": (0, 65535),
    "int16": (-32768, 32767),
}


def _range(dtype) -> tuple[int, int] | None:
    """The (lowest, highest) value of integer type `dtype`, None for a type not rewritten."""
    return None if dtype is None else RANGES.get(np.dtype(dtype).name)


#: domains whose QuantizeLinear/DequantizeLinear compute ONNX's: onnxruntime writes its own
#: (com.microsoft) ones wherever a 4-bit type is involved, INT32 biases included
_QDQ_DOMAINS = ("com.microsoft",)


def _domain(node: gs.Node) -> str:
    if node.op in ("QuantizeLinear", "DequantizeLinear") and node.domain in _QDQ_DOMAINS:
        return ""
    return "" if node.domain in (None, "", "ai.onnx") else node.domain


def _dtype(t: gs.Tensor) -> np.dtype | None:
    t = through_identities(t)
    if isinstance(t, gs.Constant):
        return np.dtype(t.values.dtype) if not _lazy(t) else _onnx_np(t)
    try:
        return np.dtype(t.dtype) if t.dtype is not None else None
    except TypeError:
        return None


def _lazy(t: gs.Constant) -> bool:
    from trtforge.analyzer.rewrite.graphutil import is_lazy_external

    return is_lazy_external(t)


def _onnx_np(t: gs.Constant) -> np.dtype | None:
    try:
        return np.dtype(t.dtype)
    except TypeError:
        return None


def _value(t: gs.Tensor | None) -> np.ndarray | None:
    """A constant's value (weights included, loaded when external; through Identities),
    else None."""
    if t is None or not t.name:
        return None
    t = through_identities(t)
    if isinstance(t, gs.Constant):
        return np.asarray(t.values)
    return const_value(t, max_elements=1 << 31)


def _same_integer_type(to: int, dtype) -> bool:
    """Whether a Cast to ONNX type `to` leaves a quantized tensor of numpy type `dtype` as
    it is (torch.ao's TorchScript exports cast QuantizeLinear's UINT8 output to UINT8)."""
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(to)) == np.dtype(dtype)
    except (KeyError, TypeError, ValueError):
        return False


def _input(node: gs.Node, i: int) -> gs.Tensor | None:
    if i < len(node.inputs) and node.inputs[i].name:
        return node.inputs[i]
    return None


#: constant vectors up to this size that feed no weighted op are dequantized into float
#: constants by the qdq form too (`_Rewriter._computed_in_float`): shape pieces, not weights.
MAX_SHAPE_LIKE_ELEMENTS = 8


class Unsupported(Exception):
    """The node cannot be rewritten (the message says why); it is left as it is."""


@dataclass
class Static:
    """A tensor quantized with constant parameters: q = saturate(round(x/scale) + zp)."""

    x: gs.Tensor  # the float value before quantization
    scale: np.ndarray
    zp: np.ndarray
    dtype: np.dtype
    axis: int | None  # per-axis parameters: the data's axis; None: per-tensor
    cache: dict = field(default_factory=dict)


@dataclass
class Shadow:
    """A quantized (or integer-result) tensor held as a float tensor of its integral values."""

    value: gs.Tensor
    dtype: np.dtype


class _Rewriter:
    """One run over the whole graph (see the module docstring)."""

    def __init__(self, ctx: PassContext):
        self.ctx = ctx
        self.qdq = ctx.options.requantize_form == "qdq"
        self.records: dict[str, Static | Shadow] = {}
        self.outcome = PassOutcome()
        self.float_dtype = np.float32
        self.forms: set[str] = set()

    # -- small emitters ----------------------------------------------------------------------
    def op(
        self, op: str, inputs, attrs=None, out: gs.Tensor | None = None, dtype=None, domain=None
    ):
        """Adds one node; returns its (first) output."""
        if out is None:
            out = self.ctx.variable(op.lower(), dtype=dtype or self.float_dtype)
        ins = [i if isinstance(i, gs.Tensor) else self.const(i) for i in inputs]
        self.ctx.node(op, ins, [out], attrs=attrs, domain=domain)
        return out

    def const(self, value, dtype=None) -> gs.Constant:
        arr = np.asarray(value, dtype=dtype or self.float_dtype)
        return self.ctx.constant("c", arr)

    def cast(self, t: gs.Tensor, to: int, out=None) -> gs.Tensor:
        from onnx import helper

        dtype = helper.tensor_dtype_to_np_dtype(to)
        return self.op("Cast", [t], {"to": to}, out=out, dtype=dtype)

    # -- parameters --------------------------------------------------------------------------
    def _param(self, t: gs.Tensor | None, what: str, default=0.0) -> np.ndarray:
        if t is None:
            return np.asarray(default)
        v = _value(t)
        if v is None:
            raise Unsupported(f"{what} '{t.name}' is not a constant")
        return v

    @staticmethod
    def _bshape(param: np.ndarray, axis: int | None, rank: int | None) -> np.ndarray:
        """`param` shaped to broadcast along `axis` of a tensor of `rank`."""
        if param.size <= 1 or axis is None:
            return param.reshape(())
        if rank is None:
            raise Unsupported("per-axis parameters on a tensor of unknown rank")
        if not -rank <= axis < rank:
            raise Unsupported(f"quantization axis {axis} is outside a tensor of rank {rank}")
        a = axis + rank if axis < 0 else axis
        shape = [1] * rank
        shape[a] = param.size
        return param.reshape(shape)

    @staticmethod
    def _rank(t: gs.Tensor) -> int | None:
        shape = t.shape if not isinstance(t, gs.Constant) else t.values.shape
        return None if shape is None else len(shape)

    # -- the integral value of a quantized tensor (float form) ------------------------------
    def integral(self, t: gs.Tensor) -> gs.Tensor:
        """The float tensor of t's integer values."""
        rec = self.records.get(t.name)
        if isinstance(rec, Shadow):
            return rec.value
        if isinstance(rec, Static):
            if "integral" not in rec.cache:
                lo, hi = _range(rec.dtype)
                rank = self._rank(rec.x)
                s = self.const(self._bshape(rec.scale.astype(np.float32), rec.axis, rank))
                zp = self.const(self._bshape(rec.zp.astype(np.float32), rec.axis, rank))
                q = self.op("Round", [self.op("Div", [rec.x, s])])
                q = self.op("Add", [q, zp])
                rec.cache["integral"] = self.op("Clip", [q, self.const(lo), self.const(hi)])
                self.forms.add("float")
            return rec.cache["integral"]
        value = _value(t)
        if value is not None:
            return self.const(value.astype(np.float32))
        return self.cast(t, 1)

    # -- dequantization ----------------------------------------------------------------------
    def dequant(
        self,
        t: gs.Tensor,
        scale: gs.Tensor | None,
        zp: gs.Tensor | None,
        axis: int | None,
        out: gs.Tensor | None = None,
        weight_axis: int | None = None,
    ) -> gs.Tensor:
        """The real value of quantized `t` (scale, zero point, per-axis `axis` or None)."""
        rec = self.records.get(t.name)
        s = self._param(scale, "scale")
        z = self._param(zp, "zero point")
        data = _value(t) if rec is None else None
        dtype = rec.dtype if rec is not None else _dtype(t)
        if dtype == np.int32 and data is not None:  # a bias quantized by onnxruntime
            real = (data.astype(np.float64) - self._bshape(z, axis, data.ndim)) * self._bshape(
                s.astype(np.float64), axis, data.ndim
            )
            return self._bind(self.const(real.astype(np.float32)), out)
        if _range(dtype) is None:
            raise Unsupported(f"quantized type {dtype} (8- and 16-bit integers are rewritten)")
        if self.qdq and np.dtype(dtype).itemsize == 1 and not self._computed_in_float(rec, data):
            if isinstance(rec, Static) and self._same(rec, s, z, axis):
                return self._qdq_pair(rec, out)
            if data is not None and (weight_axis is not None or data.size > 1):
                return self._qdq_weight(data, s, z, axis, weight_axis, out)
            # a quantized scalar constant (QLinearMul's scaling factor): TensorRT's builder
            # takes an INT8 constant only into a DQ that it fuses into a weighted op
            # ("Quantized constant … is only allowed before DQ"); its real value is exact
        rank = self._rank(rec.x if isinstance(rec, Static) else t)
        if self.qdq:
            log.debug("requantize: %s dequantized in float (%s)", t.name, type(rec).__name__)
        if data is not None:
            real = (data.astype(np.float64) - self._bshape(z, axis, data.ndim)) * self._bshape(
                s.astype(np.float64), axis, data.ndim
            )
            self.forms.add("float")
            return self._bind(self.const(real.astype(np.float32)), out)
        value = self.integral(t)
        self.forms.add("float")
        centred = value
        if np.any(z != 0):
            centred = self.op(
                "Sub", [value, self.const(self._bshape(z.astype(np.float32), axis, rank))]
            )
        return self.op(
            "Mul", [centred, self.const(self._bshape(s.astype(np.float32), axis, rank))], out=out
        )

    def _computed_in_float(self, rec, data) -> bool:
        """Quantized values the qdq form computes exactly in float too: scalars (a rank-0
        QuantizeLinear input) and small constant vectors that feed no weighted op
        (`_shape_like`). TensorRT fuses Q/DQ into layers over tensors, so these gain nothing
        from INT8, and its parser refuses them in shape computations: an Unsqueeze of a
        quantized scalar, or INT8 weights evaluated for a shape (knowledge base,
        `_tensor_common.QDQ_SOURCE`)."""
        if isinstance(rec, Static):
            return self._rank(rec.x) == 0
        return data is not None and self._shape_like(data)

    @staticmethod
    def _shape_like(data: np.ndarray) -> bool:
        return data.ndim <= 1 and data.size <= MAX_SHAPE_LIKE_ELEMENTS

    def _bind(self, t: gs.Tensor, out: gs.Tensor | None) -> gs.Tensor:
        if out is None:
            return t
        if isinstance(t, gs.Constant) and isinstance(out, gs.Variable):
            out.to_constant(np.asarray(t.values))  # the consumer reads the constant itself
            return out
        return self.op("Identity", [t], out=out)

    @staticmethod
    def _same(rec: Static, s: np.ndarray, z: np.ndarray, axis: int | None) -> bool:
        return (
            rec.scale.shape == s.shape
            and np.array_equal(rec.scale, s)
            and np.array_equal(rec.zp.astype(np.int64), z.astype(np.int64))
            and (rec.axis == axis or s.size <= 1)
        )

    def _qdq_pair(self, rec: Static, out: gs.Tensor | None) -> gs.Tensor:
        """Symmetric INT8 QuantizeLinear (shared) + a DequantizeLinear for this consumer."""
        if "q" not in rec.cache:
            lo, hi = _range(rec.dtype)
            zp = rec.zp.astype(np.float64)
            reach = np.maximum(np.abs(lo - zp), np.abs(hi - zp))
            sym = (reach * rec.scale.astype(np.float64) / 127.0).astype(np.float32)
            sym = np.maximum(sym, np.finfo(np.float32).tiny)
            attrs = {"axis": rec.axis} if rec.axis is not None and sym.size > 1 else {}
            s_c = self.const(sym)
            z_c = self.const(np.zeros(sym.shape, np.int8), dtype=np.int8)
            x = self._clamp(rec, (lo - zp) * rec.scale, (hi - zp) * rec.scale, reach * rec.scale)
            q = self.op("QuantizeLinear", [x, s_c, z_c], attrs, dtype=np.int8)
            rec.cache["q"] = (q, s_c, z_c, attrs)
        q, s_c, z_c, attrs = rec.cache["q"]
        self.forms.add("qdq")
        return self.op("DequantizeLinear", [q, s_c, z_c], attrs, out=out)

    def _clamp(self, rec: Static, lo, hi, reach) -> gs.Tensor:
        """rec.x clamped to the original quantization range where the symmetric range is wider:
        saturation is part of what the original computes (a UINT8 zero point of 0 is a fused
        ReLU), and the symmetric grid would let values through that the original clipped."""
        lo, hi, reach = (np.asarray(v, np.float64) for v in (lo, hi, reach))
        slack = 1e-6 * np.maximum(reach, 1e-30)
        with np.errstate(invalid="ignore"):  # an infinite range (an infinite scale) needs none
            need_lo = bool(np.any(lo > -reach + slack))
            need_hi = bool(np.any(hi < reach - slack))
        if not (need_lo or need_hi):
            return rec.x
        rank = self._rank(rec.x)
        if need_lo and not need_hi and not np.any(lo):
            return self.op("Relu", [rec.x])
        x = rec.x
        if rec.axis is None or lo.size <= 1:
            return self.op(
                "Clip",
                [
                    x,
                    self.const(lo.reshape(()) if need_lo else -reach.reshape(())),
                    self.const(hi.reshape(()) if need_hi else reach.reshape(())),
                ],
            )
        if need_lo:
            x = self.op("Max", [x, self.const(self._bshape(lo.astype(np.float32), rec.axis, rank))])
        if need_hi:
            x = self.op("Min", [x, self.const(self._bshape(hi.astype(np.float32), rec.axis, rank))])
        return x

    def _qdq_weight(self, data, s, z, axis, weight_axis, out) -> gs.Tensor:
        """Quantized constant weights → symmetric INT8 (per channel along `weight_axis`)."""
        if data.dtype == np.int8 and not np.any(z != 0) and np.all(s > 0):
            attrs = {"axis": axis} if axis is not None and s.size > 1 else {}
            w = self.ctx.constant("w", data)
            self.forms.add("qdq")
            return self.op("DequantizeLinear", [w, self.const(s)], attrs, out=out)
        real = (data.astype(np.float64) - self._bshape(z, axis, data.ndim)) * self._bshape(
            s.astype(np.float64), axis, data.ndim
        )
        if weight_axis is not None and real.ndim > 0:
            a = weight_axis % real.ndim
            others = tuple(i for i in range(real.ndim) if i != a)
            amax = np.max(np.abs(real), axis=others) if others else np.abs(real)
            attrs = {"axis": a}
            shape = [1] * real.ndim
            shape[a] = -1
            amax_b = amax.reshape(shape)
        else:
            amax = np.asarray(np.max(np.abs(real)) if real.size else 0.0)
            attrs, amax_b = {}, amax
        scale = np.maximum(amax / 127.0, np.finfo(np.float32).tiny).astype(np.float32)
        scale_b = np.maximum(amax_b / 127.0, np.finfo(np.float32).tiny)
        q = np.clip(np.rint(real / scale_b), -127, 127).astype(np.int8)
        self.forms.add("qdq")
        return self.op(
            "DequantizeLinear", [self.ctx.constant("w", q), self.const(scale)], attrs, out=out
        )

    # -- records -----------------------------------------------------------------------------
    def quantized(self, x: gs.Tensor, scale, zp, axis, out: gs.Tensor, dtype=None) -> None:
        """Records `out` = quantize(x, scale, zp): Static when the parameters are constants."""
        if x.dtype is not None and np.dtype(x.dtype) != np.float32:
            raise Unsupported(f"quantization of {np.dtype(x.dtype)} values (FLOAT is rewritten)")
        s, z = _value(scale), (_value(zp) if zp is not None else None)
        if dtype is None:
            dtype = np.dtype(z.dtype) if z is not None else np.dtype(np.uint8)
        if z is None:
            z = np.zeros(s.shape if s is not None else (), dtype)
        if _range(dtype) is None:
            raise Unsupported(f"quantized type {dtype}")
        if s is not None:
            if np.any(np.isnan(s)) or np.any(s == 0):
                # x / 0 is NaN where x is 0 (a ReLU's zeros), and NaN has no integer:
                # onnxruntime's kernels and any rewrite each give their own. (An infinite
                # scale, which onnxruntime's quantizer gives a tensor of infinite range — a
                # causal mask —, is NaN only at infinite x: rewritten.)
                raise Unsupported(f"scale '{scale.name}' holds a zero or NaN")
            if axis is not None and s.size <= 1:
                axis = None
            self.records[out.name] = Static(x, s, z, np.dtype(dtype), axis)
            return
        # runtime scale: emulate in float
        lo, hi = _range(dtype)
        q = self.op("Round", [self.op("Div", [x, scale])])
        zf = self.cast(zp, 1) if zp is not None else None
        if zf is not None:
            q = self.op("Add", [q, zf])
        value = self.op("Clip", [q, self.const(lo), self.const(hi)])
        self.forms.add("float")
        self.records[out.name] = Shadow(value, np.dtype(dtype))

    # -- node handlers -----------------------------------------------------------------------
    def handle(self, node: gs.Node) -> bool:
        """Rewrites `node` if it is a quantization node or reads a recorded tensor."""
        op, dom = node.op, _domain(node)
        reads = [t for t in node.inputs if t.name in self.records]
        if dom == "" and op == "QuantizeLinear":
            scalar = self._rank(node.inputs[0]) == 0
            if not (self._bad_qdq(node) or reads or not self.qdq or scalar):
                return False
            self._check_attrs(node)
            axis = (
                node.attrs.get("axis", 1)
                if _value(_input(node, 1)) is not None and _value(_input(node, 1)).size > 1
                else None
            )
            zp = _input(node, 2)
            x = node.inputs[0]
            if x.name in self.records:
                raise Unsupported("QuantizeLinear of a quantized tensor")
            self.quantized(x, node.inputs[1], zp, axis, node.outputs[0])
            return True
        if dom == "" and op == "DequantizeLinear":
            data = node.inputs[0]
            weight_axis = self._weight_axis(node.outputs[0])
            # a small constant only: larger ones (weights of a Gather) are never loaded here
            constant = (
                const_value(data, max_elements=MAX_SHAPE_LIKE_ELEMENTS)
                if weight_axis is None and not reads
                else None
            )
            shape_like = constant is not None and self._shape_like(constant)
            if not (self._bad_qdq(node) or reads or not self.qdq or shape_like):
                return False
            self._check_attrs(node)
            s = _value(_input(node, 1))
            axis = node.attrs.get("axis", 1) if s is not None and s.size > 1 else None
            self.dequant(data, node.inputs[1], _input(node, 2), axis, node.outputs[0], weight_axis)
            return True
        if (dom, op) in INTEGER_OPS:
            getattr(self, "_" + op)(node)
            return True
        if not reads:
            return False
        if dom == "" and op == "Cast" and node.outputs[0].dtype is not None:
            to = node.attrs["to"]
            if to in (1, 10, 11, 16):  # float types: the integral value, exactly
                rec = self.records[node.inputs[0].name]
                if isinstance(rec, Static) and self.qdq:
                    return False  # materialized as a real Q below; rare
                value = self.integral(node.inputs[0])
                if to == 1:
                    self.op("Identity", [value], out=node.outputs[0])
                else:
                    self.cast(value, to, out=node.outputs[0])
                return True
            rec = self.records[node.inputs[0].name]
            if _same_integer_type(to, rec.dtype):  # a no-op Cast (torch.ao's exports)
                self.records[node.outputs[0].name] = rec
                return True
            return False
        if dom == "" and op in MOVERS and node.inputs[0].name in self.records:
            return self._move(node)
        if dom == "" and op == "Concat" and all(t.name in self.records for t in node.inputs):
            return self._concat(node)
        return False

    def _bad_qdq(self, node: gs.Node) -> bool:
        """A Q/DQ node TensorRT refuses: not INT8 (UINT8, 16-bit, INT32 data), or zero point
        not 0."""
        zp = _input(node, 2)
        data = node.inputs[0] if node.op == "DequantizeLinear" else None
        dtype = None
        if zp is not None:
            dtype = _dtype(zp)
            z = _value(zp)
            if z is not None and np.any(z.astype(np.float64) != 0):
                return True
        elif node.op == "QuantizeLinear":
            dtype = np.dtype(np.uint8)  # no zero point: UINT8 output
        if data is not None:
            dtype = _dtype(data) or dtype
        return dtype is not None and np.dtype(dtype).name in ("uint8", "int32", "int16", "uint16")

    @staticmethod
    def _check_attrs(node: gs.Node) -> None:
        if int(node.attrs.get("block_size", 0) or 0) > 0:
            raise Unsupported("block quantization (block_size)")

    def _weight_axis(self, real: gs.Tensor) -> int | None:
        """The per-channel axis for weights whose dequantized value feeds Conv/MatMul/Gemm."""
        for user in real.outputs:
            if (
                user.op in ("Conv", "ConvTranspose")
                and len(user.inputs) > 1
                and user.inputs[1] is real
            ):
                return 0 if user.op == "Conv" else 1
            if user.op == "MatMul" and len(user.inputs) > 1 and user.inputs[1] is real:
                return -1
            if user.op == "Gemm" and len(user.inputs) > 1 and user.inputs[1] is real:
                return 0 if user.attrs.get("transB", 0) else -1
        return None

    def _move(self, node: gs.Node) -> bool:
        """A MOVERS node on the quantized tensor it reads: each output keeps that tensor's
        quantization (a per-tensor one in the qdq form, on the float values; the integral
        values otherwise) — a Split's every output. A Resize that interpolates (onnxruntime
        resizes UINT8/INT8 data in the integer domain, its output quantized as its input)
        runs on the same values: within a step of the integer result in the qdq form, and
        in the float form truncated toward zero, as onnxruntime's kernel converts its float
        interpolation to the integer type (exact)."""
        rec = self.records[node.inputs[0].name]
        movement = _movement(node)
        if any(t.name in self.records for t in node.inputs[1:]) or movement is None:
            return False
        if node.op == "MaxPool" and len(node.outputs) > 1:
            return False
        static = isinstance(rec, Static) and self.qdq
        if static and rec.axis is not None:
            return False
        source = rec.x if static else self.integral(node.inputs[0])
        outs = [self.ctx.variable(node.op.lower(), dtype=self.float_dtype) for _ in node.outputs]
        self.ctx.node(node.op, [source, *node.inputs[1:]], outs, attrs=dict(node.attrs))
        for old, new in zip(node.outputs, outs, strict=True):
            if static:
                self.records[old.name] = Static(new, rec.scale, rec.zp, rec.dtype, None)
            elif movement == "interpolate":
                self.records[old.name] = Shadow(self._truncated(new, rec.dtype), rec.dtype)
            else:
                self.records[old.name] = Shadow(new, rec.dtype)
        return True

    def _truncated(self, value: gs.Tensor, dtype) -> gs.Tensor:
        """`value` truncated toward zero and saturated to integer type `dtype`."""
        lo, hi = _range(dtype)
        if lo < 0:  # toward zero: the magnitude's floor, signed
            whole = self.op(
                "Mul", [self.op("Sign", [value]), self.op("Floor", [self.op("Abs", [value])])]
            )
        else:
            whole = self.op("Floor", [value])
        self.forms.add("float")
        return self.op("Clip", [whole, self.const(lo), self.const(hi)])

    def _concat(self, node: gs.Node) -> bool:
        """Concat of quantized tensors of one integer type: of their float values where all
        share one per-tensor quantization (qdq form), else of their integral values (what the
        integer Concat computed)."""
        recs = [self.records[t.name] for t in node.inputs]
        first = recs[0]
        if len({np.dtype(r.dtype) for r in recs}) != 1:
            return False
        out = self.ctx.variable("concat", dtype=self.float_dtype)
        shared = self.qdq and all(
            isinstance(r, Static)
            and r.axis is None
            and np.array_equal(r.scale, first.scale)
            and np.array_equal(r.zp, first.zp)
            for r in recs
        )
        if shared:
            self.ctx.node("Concat", [r.x for r in recs], [out], attrs=dict(node.attrs))
            self.records[node.outputs[0].name] = Static(
                out, first.scale, first.zp, first.dtype, None
            )
            return True
        values = [self.integral(t) for t in node.inputs]
        self.ctx.node("Concat", values, [out], attrs=dict(node.attrs))
        self.records[node.outputs[0].name] = Shadow(out, first.dtype)
        return True

    def _DynamicQuantizeLinear(self, node: gs.Node) -> None:  # noqa: N802
        x = node.inputs[0]
        y, s_out, zp_out = (list(node.outputs) + [None, None])[:3]
        lo = self.op("Min", [self.op("ReduceMin", [x], {"keepdims": 0}), self.const(0.0)])
        hi = self.op("Max", [self.op("ReduceMax", [x], {"keepdims": 0}), self.const(0.0)])
        scale = self.op("Div", [self.op("Sub", [hi, lo]), self.const(255.0)])
        # an all-zero tensor (lo = hi = 0) has scale 1, as onnxruntime's kernel sets it (0
        # would divide 0 by 0 below)
        zero = self.op("Equal", [hi, lo], dtype=np.dtype(bool))
        scale = self.op("Where", [zero, self.const(1.0), scale])
        zp = self.op(
            "Clip",
            [
                self.op("Round", [self.op("Div", [self.op("Neg", [lo]), scale])]),
                self.const(0.0),
                self.const(255.0),
            ],
        )
        q = self.op("Add", [self.op("Round", [self.op("Div", [x, scale])]), zp])
        q = self.op("Clip", [q, self.const(0.0), self.const(255.0)])
        self.forms.add("float")
        if s_out is not None and s_out.name:
            self.op("Identity", [scale], out=s_out)
        self.records[y.name] = Shadow(q, np.dtype(np.uint8))
        if zp_out is not None and zp_out.name:
            self.records[zp_out.name] = Shadow(zp, np.dtype(np.uint8))

    def _centred(self, t: gs.Tensor, zp: gs.Tensor | None, axis_of_zp: int | None) -> gs.Tensor:
        """t's integer values minus its zero point, in float."""
        data = _value(t) if t.name not in self.records else None
        if data is not None:
            z = _value(zp) if zp is not None else np.zeros(())
            if z is None:
                raise Unsupported(
                    f"zero point '{zp.name}' of constant '{t.name}' is not a constant"
                )
            centred = data.astype(np.float64) - self._bshape(
                z.astype(np.float64), axis_of_zp, data.ndim
            )
            return self.const(centred.astype(np.float32))
        value = self.integral(t)
        if zp is None:
            return value
        z = _value(zp)
        if z is not None:
            if not np.any(z != 0):
                return value
            return self.op(
                "Sub",
                [value, self.const(self._bshape(z.astype(np.float32), axis_of_zp, self._rank(t)))],
            )
        if zp.name in self.records or axis_of_zp is None:
            return self.op("Sub", [value, self.integral(zp)])
        raise Unsupported(f"per-row zero point '{zp.name}' is not a constant")

    def _int_result(self, node: gs.Node, value: gs.Tensor) -> None:
        self.forms.add("float")
        self.records[node.outputs[0].name] = Shadow(value, np.dtype(np.int32))

    def _MatMulInteger(self, node: gs.Node) -> None:  # noqa: N802
        a, b = node.inputs[0], node.inputs[1]
        ra = self._rank(a)
        a_c = self._centred(a, _input(node, 2), (ra - 2) if ra else None)
        b_c = self._centred(b, _input(node, 3), -1)
        self._int_result(node, self.op("MatMul", [a_c, b_c]))

    def _ConvInteger(self, node: gs.Node) -> None:  # noqa: N802
        x, w = node.inputs[0], node.inputs[1]
        x_c = self._centred(x, _input(node, 2), None)
        w_c = self._centred(w, _input(node, 3), 0)
        self._int_result(node, self.op("Conv", [x_c, w_c], dict(node.attrs)))

    def _deq_operand(self, node, i_data, i_scale, i_zp, axis=None, weight_axis=None):
        return self.dequant(
            node.inputs[i_data],
            node.inputs[i_scale],
            _input(node, i_zp),
            axis,
            weight_axis=weight_axis,
        )

    def _requant_output(self, node: gs.Node, value: gs.Tensor, i_scale: int, i_zp: int) -> None:
        zp = _input(node, i_zp)
        dtype = _dtype(zp) if zp is not None else np.dtype(np.uint8)
        self.quantized(value, node.inputs[i_scale], zp, None, node.outputs[0], dtype)

    def _QLinearMatMul(self, node: gs.Node) -> None:  # noqa: N802
        ra = self._rank(node.inputs[0])
        a_axis = self._param_axis(node.inputs[1], None if ra is None else ra - 2)
        b_axis = self._param_axis(node.inputs[4], -1)
        a = self._deq_operand(node, 0, 1, 2, a_axis)
        b = self._deq_operand(node, 3, 4, 5, b_axis, weight_axis=-1)
        self._requant_output(node, self.op("MatMul", [a, b]), 6, 7)

    @staticmethod
    def _param_axis(scale: gs.Tensor, axis: int | None) -> int | None:
        v = _value(scale)
        if v is not None and v.size <= 1:
            return None
        if axis is None:
            raise Unsupported("per-row parameters on an operand of unknown rank")
        return axis

    def _QLinearConv(self, node: gs.Node) -> None:  # noqa: N802
        x = self._deq_operand(node, 0, 1, 2, None)
        w_axis = self._param_axis(node.inputs[4], 0)
        w = self._deq_operand(node, 3, 4, 5, w_axis, weight_axis=0)
        inputs = [x, w]
        bias = _input(node, 8)
        if bias is not None:
            b = _value(bias)
            sx, sw = _value(node.inputs[1]), _value(node.inputs[4])
            if b is None or sx is None or sw is None:
                raise Unsupported("QLinearConv bias with runtime scales")
            inputs.append(
                self.const(
                    (
                        b.astype(np.float64)
                        * sx.astype(np.float64)
                        * sw.astype(np.float64).reshape(-1)
                    ).astype(np.float32)
                )
            )
        self._requant_output(node, self.op("Conv", inputs, dict(node.attrs)), 6, 7)

    def _binary(self, node: gs.Node, op: str) -> None:
        a = self._deq_operand(node, 0, 1, 2)
        b = self._deq_operand(node, 3, 4, 5)
        self._requant_output(node, self.op(op, [a, b]), 6, 7)

    def _QLinearAdd(self, node):  # noqa: N802
        self._binary(node, "Add")

    def _QLinearMul(self, node):  # noqa: N802
        self._binary(node, "Mul")

    def _unary(self, node: gs.Node, op: str, attrs=None) -> None:
        if node.attrs.get("channels_last", 0):
            raise Unsupported("channels_last layout")
        x = self._deq_operand(node, 0, 1, 2)
        self._requant_output(node, self.op(op, [x], attrs), 3, 4)

    def _QLinearSigmoid(self, node):  # noqa: N802
        self._unary(node, "Sigmoid")

    def _QLinearSoftmax(self, node):  # noqa: N802
        """Softmax over `axis`; the `opset` attribute picks the Softmax semantics (below 13:
        over the flattened trailing dims from `axis`, the same only at the last axis)."""
        axis = int(node.attrs.get("axis", -1))
        rank = self._rank(node.inputs[0])
        if int(node.attrs.get("opset", 13)) < 13 and axis != -1 and axis != (rank or 0) - 1:
            raise Unsupported("QLinearSoftmax with opset < 13 semantics before the last axis")
        self._unary(node, "Softmax", {"axis": axis})

    def _QLinearLeakyRelu(self, node):  # noqa: N802
        self._unary(node, "LeakyRelu", {"alpha": float(node.attrs.get("alpha", 0.01))})

    def _QLinearGlobalAveragePool(self, node):  # noqa: N802
        self._unary(node, "GlobalAveragePool")

    def _QLinearAveragePool(self, node):  # noqa: N802
        attrs = {k: v for k, v in node.attrs.items() if k != "channels_last"}
        self._unary(node, "AveragePool", attrs)

    def _QLinearConcat(self, node):  # noqa: N802
        parts = []
        for i in range(2, len(node.inputs), 3):
            parts.append(self._deq_operand(node, i, i + 1, i + 2))
        out = self.op("Concat", parts, {"axis": int(node.attrs["axis"])})
        self._requant_output(node, out, 0, 1)

    def _QGemm(self, node):  # noqa: N802
        a = self._deq_operand(node, 0, 1, 2)
        trans_b = int(node.attrs.get("transB", 0))
        b_axis = self._param_axis(node.inputs[4], 0 if trans_b else 1)
        b = self._deq_operand(node, 3, 4, 5, b_axis, weight_axis=0 if trans_b else -1)
        inputs = [a, b]
        c = _input(node, 6)
        if c is not None:
            cv, sa, sb = _value(c), _value(node.inputs[1]), _value(node.inputs[4])
            if cv is None or sa is None or sb is None:
                raise Unsupported("QGemm bias with runtime scales")
            inputs.append(
                self.const((cv.astype(np.float64) * sa * sb.reshape(-1)).astype(np.float32))
            )
        attrs = {k: node.attrs[k] for k in ("alpha", "transA", "transB") if k in node.attrs}
        y = self.op("Gemm", inputs, attrs)
        if _input(node, 7) is None:  # float output
            self.op("Identity", [y], out=node.outputs[0])
        else:
            self._requant_output(node, y, 7, 8)

    def _MatMulIntegerToFloat(self, node):  # noqa: N802
        a, b = node.inputs[0], node.inputs[1]
        ra = self._rank(a)
        a_c = self._centred(a, _input(node, 4), (ra - 2) if ra else None)
        b_c = self._centred(b, _input(node, 5), -1)
        y = self.op("MatMul", [a_c, b_c])
        y = self.op("Mul", [y, self.op("Mul", [node.inputs[2], node.inputs[3]])])
        bias = _input(node, 6)
        self.op(
            "Add" if bias is not None else "Identity",
            [y, bias] if bias is not None else [y],
            out=node.outputs[0],
        )
        self.forms.add("float")

    def _DynamicQuantizeMatMul(self, node):  # noqa: N802
        raise Unsupported("DynamicQuantizeMatMul (decompose it with its inputs first)")

    # -- the run -----------------------------------------------------------------------------
    def materialize(self) -> None:
        """Recorded tensors still read by nodes that were not rewritten (or graph outputs) get a
        producer again: the quantized integers, cast back to their type."""
        outputs = graph_output_names(self.ctx.graph)
        for name, rec in list(self.records.items()):
            tensor = self.ctx.graph.tensors().get(name)
            if tensor is None or tensor.inputs:
                continue
            readers = [n for n in tensor.outputs if n.outputs]  # detached nodes keep inputs
            if not readers and name not in outputs:
                continue
            from onnx import helper

            to = helper.np_dtype_to_tensor_dtype(rec.dtype)
            if (
                isinstance(rec, Static)
                and self.qdq
                and rec.dtype == np.int8
                and not np.any(rec.zp)
                and self._rank(rec.x) != 0  # a scalar QuantizeLinear is handled (again)
            ):
                attrs = {"axis": rec.axis} if rec.axis is not None else {}
                self.op(
                    "QuantizeLinear",
                    [rec.x, self.const(rec.scale), self.const(rec.zp, np.int8)],
                    attrs,
                    out=tensor,
                )
                continue
            value = self.integral(tensor)
            self.cast(value, to, out=tensor)

    def run(self) -> PassOutcome:
        graph = self.ctx.graph
        nodes = _topological(graph.nodes)
        for node in nodes:
            if not node.outputs and not node.inputs:
                continue
            snapshot = len(graph.nodes)
            try:
                rewritten = self.handle(node)
            except Unsupported as why:
                self._undo(snapshot, node)
                self.outcome.skips.append(Skip(anchor(node), str(why)))
                continue
            if rewritten:
                detach(node)
                self.outcome.applied += 1
                self.outcome.changed = True
        if self.outcome.changed:
            self.materialize()
        return self.outcome

    def _undo(self, snapshot: int, node: gs.Node) -> None:
        """Removes what a failed attempt at `node` added (nodes, records, cached emissions)."""
        graph = self.ctx.graph
        added = graph.nodes[snapshot:]
        dead = {t.name for n in added for t in n.outputs}
        for n in added:
            n.inputs.clear()
            n.outputs.clear()
        del graph.nodes[snapshot:]
        for t in node.outputs:
            self.records.pop(t.name, None)
        for rec in self.records.values():
            if isinstance(rec, Static):
                for key, value in list(rec.cache.items()):
                    first = value[0] if isinstance(value, tuple) else value
                    if first.name in dead:
                        del rec.cache[key]


def _topological(nodes: list[gs.Node]) -> list[gs.Node]:
    """The nodes in an order where producers come first (the graph's own order when it is)."""
    produced: dict[str, gs.Node] = {t.name: n for n in nodes for t in n.outputs}
    order: list[gs.Node] = []
    state: dict[int, int] = {}
    for root in nodes:
        stack = [(root, False)]
        while stack:
            node, done = stack.pop()
            if done:
                state[id(node)] = 2
                order.append(node)
                continue
            if state.get(id(node)):
                continue
            state[id(node)] = 1
            stack.append((node, True))
            for t in node.inputs:
                dep = produced.get(t.name)
                if dep is not None and not state.get(id(dep)):
                    stack.append((dep, False))
    return order


class Requantize(RewritePass):
    """See the module docstring."""

    id = "requantize"
    summary = (
        "onnxruntime-quantized graphs (QLinear*/…Integer ops, DynamicQuantizeLinear, UINT8 or "
        "asymmetric Q/DQ, INT32 biases) → symmetric INT8 Q/DQ around float ops, or float"
    )
    order = 15
    removes = frozenset(INTEGER_OPS)
    reads_weights = True  # requantizes weights, reads zero points: from the model's folder

    @classmethod
    def leaves(cls, node, graph=None) -> str | None:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and any(
            a.name == "block_size" and a.i > 0 for a in node.attribute
        ):
            return "block quantization (block_size) is not rewritten"
        return None

    options = (
        PassOption(
            "requantize_form",
            "qdq",
            "requantize output: qdq (default) = symmetric INT8 Q/DQ TensorRT fuses, per-channel "
            "weights, float biases (dynamic quantization stays float); float = exact float "
            "arithmetic everywhere",
            choices=("qdq", "float"),
        ),
    )

    @classmethod
    def required_opset(cls, options) -> int:
        """Per-channel DequantizeLinear (`axis`) exists from opset 13: qdq output needs it."""
        return 13 if options.requantize_form == "qdq" else 0

    def run(self, ctx: PassContext) -> PassOutcome:
        rewriter = _Rewriter(ctx)
        outcome = rewriter.run()
        if outcome.changed:
            forms = " and ".join(sorted(rewriter.forms)) or "float"
            ctx.note(f"wrote the {forms} form")
            if "qdq" in rewriter.forms:
                outcome.allowances.update(_allowances(ctx))
        return outcome


def _allowances(ctx: PassContext) -> dict[str, tuple[float, str]]:
    """Per graph output: QDQ_STEPS steps of the coarsest new quantization grid it is computed
    from (the DequantizeLinear nodes this pass wrote, nearest to the output on each path)."""
    prefix = f"{ctx.pass_id}/"
    result = {}
    for out in ctx.graph.outputs:
        step, seen, stack = 0.0, set(), [out]
        while stack:
            tensor = stack.pop()
            if id(tensor) in seen or not tensor.inputs:
                continue
            seen.add(id(tensor))
            node = tensor.inputs[0]
            if node.op == "DequantizeLinear" and node.name.startswith(prefix):
                scale = _value(_input(node, 1))
                if scale is not None and scale.size:
                    step = max(step, float(np.max(scale)))
                continue
            stack.extend(node.inputs)
        if step > 0:
            result[out.name] = (
                QDQ_STEPS * step,
                f"compared within {QDQ_STEPS} steps ({step:.3g}) of the requantized grid "
                "(qdq form; --requantize-form float is exact)",
            )
    return result


PASS = Requantize
