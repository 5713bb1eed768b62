"""GPU: every plugin kernel against its float64 reference, fresh random inputs, poisoned outputs.

Hidden sizes 1 ... 65536, several row counts, every declared type combination; plus the
Python IPluginV3's ``enqueue`` on CuPy buffers. Skips cleanly without a GPU/CuPy/extension.
"""

from __future__ import annotations

import enum
import types

import pytest

from trtforge.plugins import all_plugins, harness
from trtforge.plugins.spec import DTYPES

pytestmark = pytest.mark.gpu

#: plugins whose test data is "rows x hidden" tensors (`test_shapes`): the harness sweeps sizes.
SPECS = [s for s in all_plugins() if s.test_shapes is not None]
#: the normalization plugins, for the tests below that set their attributes.
NORMS = [s for s in SPECS if s.namespace == "trtforge" and s.name in ("LayerNorm", "RMSNorm")]
#: the fused residual-add + norm plugins.
SKIP_SPECS = [
    s
    for s in all_plugins()
    if s.namespace == "trtforge" and s.name in ("SkipLayerNorm", "SkipRMSNorm")
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("hidden", harness.HIDDEN_SIZES)
def test_kernel_matches_reference(gpu, spec, hidden):
    import numpy as np

    rng = np.random.default_rng(1000 + hidden)
    failures = []
    for types_, rows, h in harness.cases(spec, hidden_sizes=[hidden]):
        res = harness.check_case(spec, types_, rows, h, rng)
        print(res.line())
        if not res.ok:
            failures.append(res.line())
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("spec", NORMS, ids=lambda s: s.name)
def test_axis_and_epsilon(gpu, spec):
    """axis=1 on a rank-3 input: dims 1..2 flattened; a large epsilon changes the result."""
    import numpy as np

    rng = np.random.default_rng(7)
    n_in = len(spec.inputs)
    x = rng.normal(1.0, 3.0, size=(5, 6, 40)).astype(np.float32)
    ws = [rng.normal(1.0, 0.5, size=(6, 40)).astype(np.float32) for _ in range(n_in - 1)]
    attrs = spec.resolve_attrs({"axis": 1, "epsilon": 0.5})
    out = harness.run_launch(spec, [x, *ws], ["float32"], attrs)[0]
    ref = spec.reference([x.astype(np.float64)] + [w.astype(np.float64) for w in ws], **attrs)[0]
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("spec", SKIP_SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("skip_shape", [(6, 40), (1, 6, 40), (5, 6, 40)])
@pytest.mark.parametrize("hidden_dtype", ["float32", "float16"])
def test_skip_broadcast(gpu, spec, skip_shape, hidden_dtype):
    """skip of shape (seq, hidden) / (1, seq, hidden) / X's shape; the sum output is
    (X + skip) + bias in float32, rounded once to the I/O type."""
    import numpy as np

    rng = np.random.default_rng(11)
    dt = np.dtype(hidden_dtype)
    x = rng.normal(1.0, 3.0, size=(5, 6, 40)).astype(dt)
    skip = rng.normal(0.0, 1.0, size=skip_shape).astype(dt)
    ws = [rng.normal(1.0, 0.5, size=(40,)).astype(dt) for _ in range(len(spec.inputs) - 2)]
    attrs = spec.resolve_attrs({"epsilon": 1e-5})
    y, s = harness.run_launch(spec, [x, skip, *ws], [hidden_dtype] * 2, attrs)
    f32 = np.float32
    expect_s = ((x.astype(f32) + skip.astype(f32)) + ws[-1].astype(f32)).astype(dt)
    np.testing.assert_array_equal(s, expect_s)
    ref = spec.reference(
        [x.astype(np.float64), skip.astype(np.float64)] + [w.astype(np.float64) for w in ws],
        **attrs,
    )
    tol = spec.tolerances[hidden_dtype]
    np.testing.assert_allclose(y, ref[0], rtol=tol.rtol, atol=tol.atol)


@pytest.mark.parametrize("spec", SKIP_SPECS, ids=lambda s: s.name)
def test_skip_shape_refused(gpu, spec):
    """A skip that is not X's trailing dims is refused, not read out of bounds."""
    import numpy as np

    x = np.ones((4, 6, 8), np.float32)
    skip = np.ones((4, 1, 8), np.float32)  # broadcasts in ONNX, but not as whole rows
    ws = [np.ones((8,), np.float32) for _ in range(len(spec.inputs) - 2)]
    with pytest.raises(Exception, match="trailing dims"):
        harness.run_launch(spec, [x, skip, *ws], ["float32"] * 2, spec.resolve_attrs({}))


# -- Python IPluginV3 enqueue on CuPy buffers --------------------------------------------------
# TensorRT is not installed on the GPU machine, so its Python bindings are replaced by a stub
# exposing only what the generated plugin class touches; enqueue() itself is the real code.


def _stub_trt():
    class DataType(enum.Enum):
        FLOAT = 0
        HALF = 1
        BF16 = 7

    class Base:
        def __init__(self, *a, **k):
            pass

    class TensorFormat(enum.Enum):
        LINEAR = 0

    return types.SimpleNamespace(
        IPluginV3=type("IPluginV3", (Base,), {}),
        IPluginV3OneCore=type("IPluginV3OneCore", (Base,), {}),
        IPluginV3OneBuild=type("IPluginV3OneBuild", (Base,), {}),
        IPluginV3OneRuntime=type("IPluginV3OneRuntime", (Base,), {}),
        IPluginCreatorV3One=type("IPluginCreatorV3One", (Base,), {}),
        DataType=DataType,
        TensorFormat=TensorFormat,
        __name__="stub_trt",
    )


@pytest.mark.parametrize("spec", NORMS, ids=lambda s: s.name)
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_python_plugin_enqueue(gpu, spec, dtype):
    import cupy as cp
    import numpy as np

    from trtforge.plugins.pyplugin import make_plugin_class

    trt = _stub_trt()
    plugin = make_plugin_class(spec, trt)({"epsilon": 1e-5})
    rng = np.random.default_rng(11)
    rows, hidden = 33, 4096
    n_in = len(spec.inputs)
    combo = next(c for c in spec.type_combinations if c[0] == dtype and c[1] == dtype)
    inputs = harness.random_inputs(spec, combo[:n_in], rows, hidden, rng)
    dev_in = [cp.asarray(np.ascontiguousarray(a).view(np.uint8)) for a in inputs]
    out_t = harness.np_dtype(combo[n_in])
    dev_out = cp.full(rows * hidden * out_t.itemsize, 0xFF, dtype=cp.uint8)
    enum_of = {v[0]: k for k, v in {n: DTYPES[n] for n in DTYPES}.items()}
    trt_type = {
        "float32": trt.DataType.FLOAT,
        "float16": trt.DataType.HALF,
        "bfloat16": trt.DataType.BF16,
    }

    def desc(a, t):
        return types.SimpleNamespace(type=trt_type[t], dims=a.shape, format=trt.TensorFormat.LINEAR)

    assert enum_of[DTYPES[dtype][0]] == dtype
    stream = cp.cuda.Stream(non_blocking=True)
    plugin.enqueue(
        [desc(a, t) for a, t in zip(inputs, combo[:n_in], strict=False)],
        [desc(inputs[0], combo[n_in])],
        [int(d.data.ptr) for d in dev_in],
        [int(dev_out.data.ptr)],
        0,
        stream.ptr,
    )
    stream.synchronize()
    out = dev_out.get().view(out_t).reshape(rows, hidden)
    ref = spec.reference([a.astype(np.float64) for a in inputs], epsilon=1e-5, axis=-1)[0]
    res = harness.compare(spec, combo, rows, hidden, [out], [ref])
    assert res.ok, res.line()
