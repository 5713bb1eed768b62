"""Recurrent ops: RNN, GRU, LSTM (built as ILoop networks by the parser).

Sources: onnx-tensorrt docs/operators.md (10.15: "For bidirectional RNNs/GRUs/LSTMs,
activation functions must be the same for both the forward and reverse pass"; LSTM
"`input_forget` attribute must be 0"); onnxOpImporters.cpp importRNN/importGRU/importLSTM;
OnnxAttrs activation-name table. Observed with the TensorRT-RTX 1.7.1 parser: activations Relu,
Tanh, Sigmoid, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign and Softplus
parse, Affine fails ("Unknown activation type: Affine"); bidirectional with different
per-direction activations fails; input_forget=1 fails; layout=1 parses (but with
`sequence_lens` and a static batch and sequence length that differ, neither 1:
`_check_batch_major_sequence_lens`); all outputs (Y, Y_h,
Y_c) parse; GRU with BFLOAT16 inputs fails (its zero initial state is a FLOAT constant), FLOAT16
parses. With `sequence_lens` given, FLOAT16/BFLOAT16 RNN, GRU and LSTM fail ("ISelectLayer must
have `thenInput` and `elseInput` of same types but has Half and Float"): RNNHelpers.cpp
clearMissingSequenceElements masks the input with a FLOAT zero constant (observed with the
TensorRT-RTX 1.7.1 parser on the held-out FLOAT16 variant and probes; FLOAT/DOUBLE parse).
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._compute import (
    CHECKERS,
    IMPORTERS,
    OBSERVED,
    OPS_MD,
    mixed_float_types,
    src,
)
from trtforge.analyzer.kb.policy import FLOAT_LIKE, INDEX_INTS
from trtforge.analyzer.kb.rule import AttrLimit, NodeContext, OpRule

_ACTIVATIONS = frozenset(
    {
        "Relu",
        "Tanh",
        "Sigmoid",
        "LeakyRelu",
        "ThresholdedRelu",
        "ScaledTanh",
        "HardSigmoid",
        "Elu",
        "Softsign",
        "Softplus",
    }
)


def _check_sequence_lens(ctx: NodeContext):
    """RNNHelpers.cpp clearMissingSequenceElements selects between the input and a FLOAT zero:
    with sequence_lens, only FLOAT (or DOUBLE, cast down) data parses."""
    x = ctx.input(0)
    if ctx.has_input(4) and x is not None and x.dtype in ("FLOAT16", "BFLOAT16"):
        yield ctx.finding(
            "sequence-lens-dtype",
            f"sequence_lens with {x.dtype} data; the parser masks the sequence with a FLOAT "
            "zero, which cannot be selected against a reduced-precision tensor",
            "drop sequence_lens when every sequence has full length, or run the recurrence "
            "in FLOAT (Cast around the node)",
        )


def _check_batch_major_sequence_lens(ctx: NodeContext):
    """layout=1 (batch-major X) with sequence_lens: the parser's sequence masking lays the
    lengths along X's first axis as if it were the sequence's (layout 0), so a static batch
    and sequence length that differ, neither 1, do not broadcast ("broadcast dimensions must
    be conformable"; observed with the TensorRT-RTX 1.7.1 parser, hold-out round 4: equal
    sizes, a size of 1 and dynamic dims parse)."""
    x = ctx.input(0)
    if not ctx.has_input(4) or ctx.attr("layout", 0) != 1 or x is None or x.shape is None:
        return
    if len(x.shape) != 3:
        return
    batch, steps = x.shape[0], x.shape[1]
    if isinstance(batch, int) and isinstance(steps, int) and 1 not in (batch, steps):
        if batch != steps:
            yield ctx.finding(
                "layout-sequence-lens",
                f"layout=1 (batch-major) with sequence_lens and batch {batch} != sequence "
                f"length {steps}: the parser masks the sequence as if X were sequence-major",
                "export with layout=0 (PyTorch's and tf2onnx's form: Transpose around the "
                "node), or drop sequence_lens when every sequence has full length",
            )


#: op -> gates stacked in its weights' second dim (W [dirs, gates·hidden, input])
_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _check_weight_shapes(ctx: NodeContext):
    """W [dirs, gates·hidden, input] and R [dirs, gates·hidden, hidden] must fit hidden_size
    and direction, and W the input's size (the ONNX spec; onnxruntime refuses another, and
    the parser fails: "broadcast dimensions must be conformable", observed with TensorRT-RTX
    1.7.1 on an LSTM whose W has 7 rows for hidden_size 5). Known static dims only."""
    hidden = ctx.attr("hidden_size")
    gates = _GATES.get(ctx.op)
    if not isinstance(hidden, int) or hidden <= 0 or gates is None:
        return
    dirs = 2 if str(ctx.attr("direction", "forward")) == "bidirectional" else 1
    x = ctx.input(0)
    size = x.shape[-1] if x is not None and x.shape else None
    for index, last, what in ((1, size, "W"), (2, hidden, "R")):
        info = ctx.input(index)
        if info is None or info.shape is None or len(info.shape) != 3:
            continue
        want = (dirs, gates * hidden, last)
        for have, need in zip(info.shape, want, strict=True):
            if isinstance(have, int) and isinstance(need, int) and have != need:
                yield ctx.finding(
                    "shapes-mismatch",
                    f"{what} {list(info.shape)} does not fit hidden_size={hidden}, "
                    f"{dirs} direction(s) and {gates} gate(s) per step: [{dirs}, "
                    f"{gates * hidden}, {last if isinstance(last, int) else '?'}] expected",
                    "fix the exporter: the weights were made for another size",
                )
                return


def _check(ctx: NodeContext):
    yield from mixed_float_types(ctx, (0, 1, 2, 3, 5, 6, 7))
    yield from _check_weight_shapes(ctx)
    yield from _check_sequence_lens(ctx)
    yield from _check_batch_major_sequence_lens(ctx)
    acts = ctx.attr("activations")
    if not acts:
        return
    acts = [str(a) for a in acts]
    unknown = sorted({a for a in acts if a not in _ACTIVATIONS})
    if unknown:
        yield ctx.finding(
            "activation",
            f"activation(s) {', '.join(unknown)} not supported",
            f"use one of {', '.join(sorted(_ACTIVATIONS))}",
        )
    if str(ctx.attr("direction", "forward")) == "bidirectional" and len(acts) % 2 == 0:
        half = len(acts) // 2
        # activations, and their alpha/beta when given for every activation, must repeat
        # (onnxOpCheckers.cpp checkRNN/checkGRU/checkLSTM)
        lists = [("activations", acts)]
        for name in ("activation_alpha", "activation_beta"):
            values = ctx.attr(name)
            if values and len(values) == len(acts):
                lists.append((name, [float(v) for v in values]))
        for name, values in lists:
            if values[:half] != values[half:]:
                yield ctx.finding(
                    "bidirectional-activations",
                    f"forward {values[:half]} and reverse {values[half:]} {name} differ",
                    "use the same activations for both directions, or split into two "
                    "unidirectional nodes",
                )
                break


def _rule(op: str, types, attrs=()) -> OpRule:
    return OpRule(
        op=op,
        source=src(
            f"{OPS_MD} ({op} row)",
            f"{IMPORTERS} import{op}",
            f"{CHECKERS} check{op} (bidirectional activations)",
            "RNNHelpers.cpp clearMissingSequenceElements (FLOAT zero mask)",
            OBSERVED,
        ),
        types={0: types, 1: types, 2: types, 3: types, 4: INDEX_INTS, 5: types, 6: types, 7: types},
        attrs=attrs,
        check=_check,
    )


RULES = [
    _rule("RNN", FLOAT_LIKE),
    _rule("GRU", {"FLOAT", "FLOAT16", "DOUBLE"}),
    _rule(
        "LSTM",
        FLOAT_LIKE,
        attrs=(
            AttrLimit(
                "input_forget",
                allowed={0},
                default=0,
                hint="coupled input/forget gates are unsupported; export with input_forget=0",
                code="input-forget",
            ),
        ),
    ),
]
