"""Kernel test harness: a plugin's CUDA kernel against its float64 NumPy reference.

For every declared type combination, hidden size and row count: fresh random inputs (drawn in
float64, rounded to the input types), output buffers poisoned with NaN bit patterns, one call
through ``trtforge._C.launch`` (the adapter the native plugin's ``enqueue`` uses), and a check
that every output element was written and lies within the declaration's tolerance of the
reference computed in float64 from the rounded inputs. Needs CuPy and a GPU; used by the test
suite and by ``trt-plugin test``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from trtforge.plugins.spec import DTYPES, PluginSpec

HIDDEN_SIZES = (1, 3, 127, 128, 768, 1000, 1024, 4096, 8192, 12288, 16384, 65536)
ROW_COUNTS = (1, 7, 64, 257)
MAX_ELEMENTS = 1 << 22  # per case, to keep the float64 reference quick


@dataclasses.dataclass(frozen=True)
class CaseResult:
    plugin: str
    types: tuple[str, ...]
    rows: int
    hidden: int
    max_abs_err: float
    rel_l2_err: float
    worst_ratio: float  # max |err| / (atol + rtol |ref|): <= 1 passes
    unwritten: int
    ok: bool

    def line(self) -> str:
        status = "ok  " if self.ok else "FAIL"
        return (
            f"{status} {self.plugin:10s} {'/'.join(self.types):40s} rows={self.rows:<6d} "
            f"hidden={self.hidden:<6d} max|err|={self.max_abs_err:.3e} "
            f"rel_l2={self.rel_l2_err:.3e} "
            f"tol_ratio={self.worst_ratio:.3f} unwritten={self.unwritten}"
        )


def np_dtype(name: str):
    import numpy as np

    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def random_inputs(spec: PluginSpec, types: Sequence[str], rows: int, hidden: int, rng):
    """Inputs for one case: X ~ N(3, 2) (a non-zero mean tests the variance); weights
    ~ N(1, 0.5) (first) and N(0, 1) (others)."""
    shapes = (
        spec.test_shapes(rows, hidden) if spec.test_shapes else [(rows, hidden)] * len(spec.inputs)
    )
    out = []
    for k, (shape, t) in enumerate(zip(shapes, types, strict=False)):
        if k == 0:
            a = rng.normal(3.0, 2.0, size=shape)
        elif k == 1:
            a = rng.normal(1.0, 0.5, size=shape)
        else:
            a = rng.normal(0.0, 1.0, size=shape)
        out.append(a.astype(np_dtype(t)))
    return out


def _poison(cp, nbytes: int):
    buf = cp.empty(nbytes, dtype=cp.uint8)
    buf.fill(0xFF)  # all-ones: NaN in float32, float16 and bfloat16
    return buf


def run_launch(spec: PluginSpec, inputs, out_types, attrs, stream=0):
    """Run the kernel on host arrays through CuPy device buffers; return host outputs."""
    import cupy as cp
    import numpy as np

    from trtforge import _C

    key = f"{spec.namespace}::{spec.name}/{spec.version}"
    dev_in = [cp.asarray(np.ascontiguousarray(a).view(np.uint8).reshape(-1)) for a in inputs]
    out_shape = inputs[0].shape
    dev_out = [_poison(cp, int(np.prod(out_shape)) * np_dtype(t).itemsize) for t in out_types]
    args_in = [
        (
            int(d.data.ptr),
            DTYPES[str(a.dtype) if str(a.dtype) != "bfloat16" else "bfloat16"][0],
            a.shape,
        )
        for d, a in zip(dev_in, inputs, strict=False)
    ]
    pairs = list(zip(dev_out, out_types, strict=True))
    args_out = [(int(d.data.ptr), DTYPES[t][0], out_shape) for d, t in pairs]
    _C.launch(key, args_in, args_out, dict(attrs), int(stream), 0)
    cp.cuda.runtime.deviceSynchronize()
    return [d.get().view(np_dtype(t)).reshape(out_shape) for d, t in pairs]


def compare(spec: PluginSpec, types, rows, hidden, outs, refs) -> CaseResult:
    import numpy as np

    n_in = len(spec.inputs)
    worst = 0.0
    max_abs = 0.0
    rel = 0.0
    unwritten = 0
    for out, ref, t in zip(outs, refs, types[n_in:], strict=False):
        tol = spec.tolerances[t]
        o = out.astype(np.float64)
        unwritten += int(np.count_nonzero(~np.isfinite(o)))
        err = np.abs(np.where(np.isfinite(o), o, np.inf) - ref)
        max_abs = max(max_abs, float(err.max()) if err.size else 0.0)
        worst = max(
            worst, float((err / (tol.atol + tol.rtol * np.abs(ref))).max()) if err.size else 0.0
        )
        denom = float(np.linalg.norm(ref)) or 1.0
        rel = max(rel, float(np.linalg.norm(np.where(np.isfinite(o), o, 0) - ref)) / denom)
    ok = unwritten == 0 and worst <= 1.0
    return CaseResult(spec.name, tuple(types), rows, hidden, max_abs, rel, worst, unwritten, ok)


def check_case(spec: PluginSpec, types, rows, hidden, rng, attrs=None, launcher=None) -> CaseResult:
    """One case. ``launcher(spec, inputs, out_types, attrs)`` defaults to :func:`run_launch`."""
    import numpy as np

    n_in = len(spec.inputs)
    attrs = spec.resolve_attrs(attrs if attrs is not None else spec.test_attrs)
    inputs = random_inputs(spec, types[:n_in], rows, hidden, rng)
    outs = (launcher or run_launch)(spec, inputs, list(types[n_in:]), attrs)
    refs = spec.reference([np.asarray(a, dtype=np.float64) for a in inputs], **attrs)
    return compare(spec, types, rows, hidden, outs, [np.asarray(r, np.float64) for r in refs])


def cases(
    spec: PluginSpec,
    hidden_sizes: Iterable[int] = HIDDEN_SIZES,
    row_counts: Iterable[int] = ROW_COUNTS,
):
    for types in spec.type_combinations:
        for h in hidden_sizes:
            for r in row_counts:
                if r * h > MAX_ELEMENTS and r > 1:
                    r = max(1, MAX_ELEMENTS // h)
                yield tuple(types), r, h


def run_all(spec: PluginSpec, seed: int = 0, **kw) -> list[CaseResult]:
    import numpy as np

    rng = np.random.default_rng(seed)
    seen = set()
    results = []
    for types, r, h in cases(spec, **kw):
        if (types, r, h) in seen:
            continue
        seen.add((types, r, h))
        results.append(check_case(spec, types, r, h, rng))
    return results
