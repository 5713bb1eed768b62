"""Random generators, Dropout and training losses.

Sources: onnx-tensorrt docs/operators.md (10.15: RandomNormal/RandomUniform(+Like) "`seed`
value is ignored"; Dropout "`is_training` must be an initializer and evaluate to False";
Bernoulli, Multinomial, NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss: N);
onnxOpImporters.cpp randomHelper (dtype attribute FLOAT or FLOAT16 only) and importDropout
(opset >= 12: training_mode must be an initializer and false; opset < 7: is_test must be 1);
Changelog 8.5 (RandomNormal, RandomUniform), 10.11 ("Removed restriction that inputs to
RandomNormalLike and RandomUniformLike must be tensors"). Observed with the TensorRT-RTX 1.7.1
parser: dtype BFLOAT16/DOUBLE fail ("Unsupported data type in randomNormal"); *Like inputs of
BFLOAT16 or integer type fail; Dropout with a constant-false training_mode parses, constant-true
or runtime training_mode fails.
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._compute import (
    CHANGELOG,
    CHECKERS,
    FOLD,
    IMPORTERS,
    OBSERVED,
    OPS_MD,
    is_weights,
    scalar,
    src,
)
from trtforge.analyzer.kb.policy import ANY_TRT
from trtforge.analyzer.kb.rule import NEVER, AttrLimit, NodeContext, OpRule

_DTYPE = AttrLimit(
    "dtype",
    allowed={1, 10},
    hint="generate FLOAT (dtype=1) or FLOAT16 (dtype=10) and Cast afterwards",
    code="dtype",
)


def _check_like(ctx: NodeContext):
    t = ctx.target
    if t.family == "trt" and t.version < (10, 11) and is_weights(ctx, 0):
        yield ctx.finding(
            "constant-input",
            "input is a build-time constant; before TensorRT 10.11 the *Like input must be a "
            "runtime tensor",
            "use RandomNormal/RandomUniform with an explicit shape",
        )


def _check_dropout(ctx: NodeContext):
    if ctx.opset and ctx.opset < 7 and ctx.attr_int("is_test", 0) == 0:
        yield ctx.finding(
            "training-mode",
            "is_test=0 (training mode) is not supported",
            "export in inference mode (model.eval())",
        )
    if ctx.opset >= 12 and ctx.has_input(2):
        if not is_weights(ctx, 2):
            yield ctx.finding(
                "training-mode-not-constant",
                f"training_mode ('{ctx.node.input[2]}') is a runtime tensor; TensorRT needs an "
                "initializer that is false",
                "export in inference mode, or fold it (trt-rewrite --fold-constants)",
                (FOLD,),
            )
            return
        if scalar(ctx.input_value(2)):
            yield ctx.finding(
                "training-mode",
                "training_mode is true; TensorRT runs Dropout in inference mode only",
                "export in inference mode (model.eval())",
            )


_RANDOM_SRC = src(
    f"{OPS_MD} (Random* rows: seed ignored)",
    f"{IMPORTERS} randomHelper",
    f"{CHECKERS} random*CheckHelper (dtype FLOAT/FLOAT16)",
    CHANGELOG + " 8.5, 10.11",
    OBSERVED,
)

RULES = [
    *(
        OpRule(op=op, source=_RANDOM_SRC, attrs=(_DTYPE,))
        for op in ("RandomNormal", "RandomUniform")
    ),
    *(
        OpRule(
            op=op,
            source=_RANDOM_SRC,
            types={0: {"FLOAT", "FLOAT16", "DOUBLE"}},
            attrs=(_DTYPE,),
            check=_check_like,
        )
        for op in ("RandomNormalLike", "RandomUniformLike")
    ),
    OpRule(
        op="Dropout",
        empty_outputs_refused=True,  # observed, TensorRT-RTX 1.7.1
        empty_inputs_refused=frozenset({2}),  # observed, TensorRT-RTX 1.7.1
        source=src(
            f"{OPS_MD} (Dropout row)",
            f"{IMPORTERS} importDropout",
            f"{CHECKERS} checkDropout (is_test)",
            OBSERVED,
        ),
        # Dropout in inference is an identity: any type passes (UINT8 and BOOL observed).
        types={0: ANY_TRT},
        check=_check_dropout,
    ),
    *(
        OpRule(
            op=op,
            source=src(f"{OPS_MD} ({op} row: N)", "no importer", OBSERVED),
            since=NEVER,
            hint=hint,
        )
        for op, hint in (
            (
                "Bernoulli",
                "no TensorRT importer: use RandomUniformLike and Less against the probabilities",
            ),
            ("Multinomial", "no TensorRT importer: sample outside the engine, or use a plugin"),
            ("NegativeLogLikelihoodLoss", "a training loss: remove it from the inference graph"),
            ("SoftmaxCrossEntropyLoss", "a training loss: remove it from the inference graph"),
        )
    ),
]
