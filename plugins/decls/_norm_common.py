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
