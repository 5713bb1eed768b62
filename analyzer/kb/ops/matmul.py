"""Matrix products: MatMul, Gemm, Einsum, Det.

Sources: onnx-tensorrt docs/operators.md (10.15: MatMul, Gemm, Einsum FP32, FP16, BF16; Det: N);
onnxOpImporters.cpp importMatMul and importGemm (checkNotInvalidType INT32/INT64; Gemm needs
2-D inputs), importEinsum (UINT8, INT32, INT64 refused); onnxOpCheckers.cpp checkEinsum
(subscripts a-z only); Changelog 10.12 ("Added support for ellipses, diagonal, and broadcasting
in Einsum"; before it operators.md said "Ellipsis and diagonal operations are not supported").
Observed with the TensorRT-RTX 1.7.1 parser: float and quantized inputs parse, INT32/INT64 fail
the type check, UINT8/BOOL fail at the layer.
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._compute import (
    CHANGELOG,
    IMPORTERS,
    OBSERVED,
    OPS_MD,
    checks,
    mixed_float_types,
    pre_opset7_broadcast,
    src,
)
from trtforge.analyzer.kb.policy import FLOAT_OPS
from trtforge.analyzer.kb.rule import NEVER, NodeContext, OpRule

_EINSUM_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz->., ")


def _outside_the_spec(equation: str) -> str | None:
    """What makes an Einsum equation one the ONNX spec does not allow, or None: each term
    holds letters and at most one ellipsis ("..."), the terms are separated by ',' and the
    output by one "->" (spaces anywhere). onnx 1.23's shape inference never ends on a term
    holding any other character (".,", "ab1,b"); TensorRT's parser fails on such a term
    (observed with TensorRT-RTX 1.7.1: "a.b,b", ".,")."""
    sides = equation.replace(" ", "").split("->")
    if len(sides) > 2:
        return "holds '->' more than once"
    for term in [*sides[0].split(","), *sides[1:]]:
        rest = term.replace("...", "", 1)
        odd = sorted({c for c in rest if not c.isascii() or not c.isalpha()})
        if odd:
            chars = ", ".join(repr(c) for c in odd)
            return f"holds {chars} in term '{term}', outside an ellipsis"
    return None


def _check_einsum(ctx: NodeContext):
    yield from mixed_float_types(ctx)
    equation = str(ctx.attr("equation", ""))
    odd = _outside_the_spec(equation)
    if odd is not None:
        yield ctx.finding(
            "invalid/equation",
            f"equation '{equation}' {odd}; ONNX allows letters, one '...' a term, ',' "
            "between the terms and '->' before the output",
            "re-export the model; no automatic fix: trtforge rewrites valid graphs only",
            source=f"ONNX operator spec (Einsum); {OBSERVED}",
        )
        return
    bad = sorted({c for c in equation if c not in _EINSUM_CHARS})
    if bad:
        # onnxOpCheckers.cpp checkEinsum: only lower-case subscripts (observed: "IJ,JK->IK" fails)
        yield ctx.finding(
            "equation-characters",
            f"equation '{equation}' uses {', '.join(repr(c) for c in bad)}; TensorRT accepts "
            "only lower-case letters as subscripts",
            "rename the subscripts to lower-case letters",
        )
    t = ctx.target
    if t.family != "trt" or t.version >= (10, 12):
        return
    equation = equation.replace(" ", "")
    lhs = equation.split("->")[0]
    if "..." in equation:
        yield ctx.finding(
            "ellipsis",
            f"equation '{equation}' uses an ellipsis; TensorRT accepts it from 10.12",
            "spell out the batch dimensions in the equation",
        )
    for term in lhs.split(","):
        letters = term.replace(".", "")
        if len(set(letters)) != len(letters):
            yield ctx.finding(
                "diagonal",
                f"term '{term}' repeats an index (diagonal); TensorRT accepts it from 10.12",
                "extract the diagonal explicitly (e.g. Mul by an EyeLike mask, then ReduceSum)",
            )
            break


def _gemm_bias_fits(ctx: NodeContext):
    """C must broadcast to the [M, N] result (unidirectionally): the parser refuses the node
    otherwise (observed with TensorRT-RTX 1.7.1: C [5] with a [2, 4] result), and onnxruntime
    fails when it runs it; ONNX shape inference passes it."""
    a, b, c = ctx.input(0), ctx.input(1), ctx.input(2)
    if c is None or a is None or b is None or c.shape is None or len(c.shape) > 2:
        return
    if a.shape is None or b.shape is None or len(a.shape) != 2 or len(b.shape) != 2:
        return
    m = a.shape[1] if ctx.attr("transA", 0) else a.shape[0]
    n = b.shape[0] if ctx.attr("transB", 0) else b.shape[1]
    for have, want in zip(reversed(c.shape), (n, m), strict=False):
        if isinstance(have, int) and isinstance(want, int) and have not in (1, want):
            yield ctx.finding(
                "shapes-mismatch",
                f"C {list(c.shape)} does not broadcast to the result [{m}, {n}]",
                "fix the exporter: the bias was made for another output size",
            )
            return


def _operands_fit(ctx: NodeContext, a, b):
    """The known dims of the two operands must multiply: the contracted dims equal, and the
    batch dims (all but the last two, aligned from the right) equal or 1. ONNX's inference
    only notices with data propagation, whose errors the policy's run ignores: a TorchScript
    export whose query and key were transposed differently (HF CANINE: [B, 4, S, 16] times
    [B, 16, S, 4]) was "supported"; the parser, onnxruntime and strict inference refuse it."""
    if a is None or b is None or a.shape is None or b.shape is None or not a.rank or not b.rank:
        return
    k_a = a.shape[-1]
    k_b = b.shape[-2] if b.rank >= 2 else b.shape[0]
    if isinstance(k_a, int) and isinstance(k_b, int) and k_a != k_b:
        yield ctx.finding(
            "shapes-mismatch",
            f"operands {list(a.shape)} and {list(b.shape)}: the contracted dims {k_a} and {k_b} "
            "differ",
            "fix the exporter: a transpose or reshape of one operand is wrong",
        )
        return
    batch_a, batch_b = list(a.shape[:-2]), list(b.shape[:-2])
    for x, y in zip(reversed(batch_a), reversed(batch_b), strict=False):
        if isinstance(x, int) and isinstance(y, int) and x != y and 1 not in (x, y):
            yield ctx.finding(
                "broadcast-mismatch",
                f"operands {list(a.shape)} and {list(b.shape)}: batch dims {x} and {y} do not "
                "broadcast",
                "fix the exporter: a transpose or reshape of one operand is wrong",
            )
            return


def _check_matmul(ctx: NodeContext):
    """A 1-D first operand against a batched second operand: importMatMul broadcasts the
    vector to [1, …, 1, K], multiplies, and squeezes axis 0 of the [b0, …, 1, N] product. The
    squeeze is a reshape that TensorRT checks at build time when the product's shape is known:
    it fails ("reshape changes volume") when b0 != 1 and every batch dim and N are static
    (observed with TensorRT-RTX 1.7.1, onnx test test_matmul_1d_3d and probes); with any of
    them dynamic the parser accepts the node (held-out variant with a symbolic batch dim)."""
    yield from pre_opset7_broadcast(ctx, 0, 1)
    yield from mixed_float_types(ctx)
    a, b = ctx.input(0), ctx.input(1)
    yield from _operands_fit(ctx, a, b)
    if a is None or b is None or a.rank != 1 or b.rank is None or b.rank < 3:
        return
    product_dims = [*b.shape[:-2], b.shape[-1]]
    if not all(isinstance(d, int) and d > 0 for d in product_dims) or b.shape[0] == 1:
        return
    yield ctx.finding(
        "vector-times-batched",
        f"1-D first operand times a batched operand {list(b.shape)}",
        "Unsqueeze the vector to [1, K] before the MatMul and Squeeze the result",
    )


RULES = [
    OpRule(
        op="MatMul",
        source=src(f"{OPS_MD} (MatMul row)", f"{IMPORTERS} importMatMul", OBSERVED),
        types={"*": FLOAT_OPS},
        hint="cast integer operands to FLOAT",
        check=_check_matmul,
    ),
    OpRule(
        op="Gemm",
        empty_inputs_refused=frozenset({2}),  # observed, TensorRT-RTX 1.7.1
        source=src(f"{OPS_MD} (Gemm row)", f"{IMPORTERS} importGemm", OBSERVED),
        types={"*": FLOAT_OPS},
        check=checks(
            lambda ctx: pre_opset7_broadcast(ctx, 2, 0) if ctx.has_input(2) else (),
            mixed_float_types,
            _gemm_bias_fits,
        ),
    ),
    OpRule(
        op="Einsum",
        empty_inputs_refused="*",  # observed, TensorRT-RTX 1.7.1
        source=src(
            f"{OPS_MD} (Einsum row)", f"{IMPORTERS} importEinsum", CHANGELOG + " 10.12", OBSERVED
        ),
        types={"*": FLOAT_OPS},
        check=_check_einsum,
    ),
    OpRule(
        op="Det",
        source=src(f"{OPS_MD} (Det row: N)", "no importer", OBSERVED),
        since=NEVER,
        hint="no TensorRT importer: for small fixed sizes expand the determinant with Mul/Sub, "
        "or use a plugin",
    ),
]
