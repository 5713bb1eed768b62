"""Shared pieces of the LayerNorm and RMSNorm declarations (stdlib only at module level)."""

from __future__ import annotations

from trtforge.plugins.spec import Tolerance

FLOATS = ("float32", "float16", "bfloat16")


def type_combinations(n_weights: int) -> tuple[tuple[str, ...], ...]:
    """X and Y share a float type; the weights are of that type too, or float32."""
    combos = []
    for t in FLOATS:
        combos.append((t,) + (t,) * n_weights + (t,))
        if t != "float32":
            combos.append((t,) + ("float32",) * n_weights + (t,))
    return tuple(combos)


# Output error against a float64 reference: one rounding of the output (half an ulp:
# 2^-11 for float16, 2^-8 for bfloat16) times |y| up to ~5, plus float32 accumulation noise.
TOLERANCES = {
    "float32": Tolerance(rtol=1e-4, atol=1e-4),
    "float16": Tolerance(rtol=2e-3, atol=4e-3),
    "bfloat16": Tolerance(rtol=1e-2, atol=3e-2),
}


def split(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    """(normalized axis, rows, cols) for normalizing ``shape`` over dims ``axis..last``."""
    rank = len(shape)
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise ValueError(f"axis {axis} is out of range for rank {rank}")
    rows = 1
    for d in shape[:a]:
        rows *= d
    cols = 1
    for d in shape[a:]:
        cols *= d
    return a, rows, cols


def test_shapes(n_weights: int):
    def shapes(rows: int, hidden: int) -> list[tuple[int, ...]]:
        return [(rows, hidden)] + [(hidden,)] * n_weights

    return shapes


#: (X shape, axis) of the declared test cases: a wide row, an odd width, a normalization over
#: several dims (axis 1 of rank 4, axis -2), a width of one.
CASE_SHAPES = (((4, 768), -1), ((2, 3, 127), -1), ((2, 3, 4, 5), 1), ((6, 1), 1), ((3, 8, 16), -2))


def test_inputs(n_weights: int, epsilon: float):
    """The declaration's test cases: every type combination on every `CASE_SHAPES` entry, X
    ~ N(3, 2) (a non-zero mean tests the variance), weights ~ N(1, 0.5) and N(0, 1)."""

    def cases(rng):
        from trtforge.plugins.harness import np_dtype

        out = []
        for combo in type_combinations(n_weights):
            for shape, axis in CASE_SHAPES:
                a, _, _ = split(shape, axis)
                x = rng.normal(3.0, 2.0, size=shape).astype(np_dtype(combo[0]))
                weights = [
                    rng.normal(1.0 if k == 0 else 0.0, 0.5 if k == 0 else 1.0, size=shape[a:])
                    for k in range(n_weights)
                ]
                inputs = [x] + [
                    w.astype(np_dtype(t)) for w, t in zip(weights, combo[1:], strict=False)
                ]
                out.append((inputs, {"epsilon": epsilon, "axis": axis}))
        return out

    return cases
