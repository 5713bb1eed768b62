"""Reusable checks for a plugin declaration — the built-in tests and scaffolded tests use these.

* :func:`check_decomposition` — NumPy reference vs the ONNX decomposition in onnxruntime (CPU);
* :func:`check_kernel` — the CUDA kernel vs the float64 reference on a GPU (CuPy), see harness;
* :func:`build_rtx_engine` — an ONNX model with the plugin node built by ``trt-build`` under
  TensorRT-RTX for SM89 (CPU; no engine is run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from trtforge.plugins.spec import DTYPES, PluginSpec

ONNX_TYPES = {name: onnx_t for name, (_trt, onnx_t) in DTYPES.items()}

#: IR version of the test models: new enough for opset 18, old enough for onnxruntime >= 1.16
#: (onnx 1.23 writes IR 14 by default, which onnxruntime 1.30 refuses).
IR_VERSION = 9


def single_node_model(
    spec: PluginSpec, shapes, dtypes, attrs=None, opset: int = 18, dynamic_rows=False
):
    """A model of one plugin node; inputs after the first are graph inputs too (or initializers
    when ``initializers`` are given to :func:`with_weights`)."""
    from onnx import helper

    attrs = dict(attrs or {})
    names = [t.name for t in spec.inputs]
    out_names = [t.name for t in spec.outputs]
    node = spec.make_node(names, out_names, name=f"{spec.name.lower()}_0", **attrs)
    n_in = len(spec.inputs)
    out_types = spec.output_dtypes(dtypes[:n_in])
    x_shape = list(shapes[0])
    if dynamic_rows:
        x_shape[0] = "N"
    inputs = [helper.make_tensor_value_info(names[0], ONNX_TYPES[dtypes[0]], x_shape)]
    inputs += [
        helper.make_tensor_value_info(n, ONNX_TYPES[t], s)
        for n, t, s in zip(names[1:], dtypes[1:n_in], shapes[1:], strict=False)
    ]
    outputs = [
        helper.make_tensor_value_info(n, ONNX_TYPES[t], x_shape)
        for n, t in zip(out_names, out_types, strict=False)
    ]
    graph = helper.make_graph([node], f"{spec.name}_test", inputs, outputs)
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(spec.namespace, 1)],
        ir_version=IR_VERSION,
    )


def declared_cases(spec: PluginSpec, rng, rows: int = 7, hidden: int = 768):
    """The declaration's own test data: a list of (input arrays, attributes).

    ``spec.test_inputs(rng)`` when the declaration has it; otherwise one case per type
    combination on ``spec.test_shapes(rows, hidden)`` with ``spec.test_attrs``. Generic plugin
    tests use these and nothing else, so a new declaration is tested on its own data.
    """
    from trtforge.plugins import harness

    if spec.test_inputs is not None:
        return spec.test_inputs(rng)
    n_in = len(spec.inputs)
    return [
        (harness.random_inputs(spec, combo[:n_in], rows, hidden, rng), dict(spec.test_attrs))
        for combo in spec.type_combinations
    ]


def case_model(spec: PluginSpec, inputs, attrs, opset: int = 18):
    """A model of one plugin node whose graph inputs have the types and shapes of ``inputs``
    (outputs: declared types, shapes left to the consumer), with the decomposition attached
    as a local function when the declaration has one."""
    import numpy as np
    from onnx import helper

    names = [t.name for t in spec.inputs]
    out_names = [t.name for t in spec.outputs]
    in_types = [str(np.asarray(a).dtype) for a in inputs]
    node = spec.make_node(names, out_names, name=f"{spec.name.lower()}_0", **dict(attrs))
    graph = helper.make_graph(
        [node],
        f"{spec.name}_case",
        [
            helper.make_tensor_value_info(n, ONNX_TYPES[t], np.shape(a))
            for n, t, a in zip(names, in_types, inputs, strict=True)
        ],
        [
            helper.make_tensor_value_info(n, ONNX_TYPES[t], None)
            for n, t in zip(out_names, spec.output_dtypes(in_types), strict=True)
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(spec.namespace, 1)],
        ir_version=IR_VERSION,
    )
    if spec.decomposition is not None:
        model.functions.append(spec.function_proto())
    return model


def check_decomposition(spec: PluginSpec, rows: int = 4, hidden: int = 96, seed: int = 0) -> float:
    """Reference vs decomposition on the declaration's float32 cases (``declared_cases``) in
    onnxruntime, held to the declared tolerances; returns the largest |difference|.

    Raises:
        ValueError: no decomposition, or no case whose floating inputs are all float32.
        AssertionError: an output outside the tolerance.
    """
    import numpy as np
    import onnxruntime as ort

    if spec.decomposition is None:
        raise ValueError(f"{spec.name} declares no decomposition")
    cases = [
        (inputs, attrs)
        for inputs, attrs in declared_cases(spec, np.random.default_rng(seed), rows, hidden)
        if not {str(np.asarray(a).dtype) for a in inputs} & {"float16", "bfloat16", "float64"}
    ]
    if not cases:
        raise ValueError(f"{spec.name} declares no test case with float32 inputs")
    worst = 0.0
    for n, (inputs, attrs) in enumerate(cases):
        model = case_model(spec, inputs, attrs)
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        feeds = {t.name: np.asarray(a) for t, a in zip(spec.inputs, inputs, strict=True)}
        got = sess.run(None, feeds)
        ref = spec.run_reference(inputs, attrs)
        for g, r in zip(got, ref, strict=True):
            assert g.shape == r.shape and g.dtype == r.dtype, (n, g.shape, r.shape, g.dtype)
            tol = spec.tolerances.get(str(r.dtype))
            if tol is None:
                np.testing.assert_array_equal(g, r, err_msg=f"{spec.name} case {n}")
                continue
            np.testing.assert_allclose(
                g, r, rtol=tol.rtol, atol=tol.atol, err_msg=f"{spec.name} case {n} {attrs}"
            )
            if g.size:
                diff = np.abs(g.astype(np.float64) - r.astype(np.float64)).max()
                worst = max(worst, float(diff))
    return worst


def check_kernel(spec: PluginSpec, hidden_sizes=None, row_counts=None, seed: int = 0):
    """Run the GPU harness over every type combination; raise AssertionError listing failures."""
    from trtforge.plugins import harness

    kw = {}
    if hidden_sizes is not None:
        kw["hidden_sizes"] = hidden_sizes
    if row_counts is not None:
        kw["row_counts"] = row_counts
    results = harness.run_all(spec, seed=seed, **kw)
    bad = [r.line() for r in results if not r.ok]
    assert not bad, "\n".join(bad)
    return results


def build_rtx_engine(
    spec: PluginSpec,
    workdir: Path,
    backend: str = "native",
    dtype: str = "float16",
    hidden: int = 256,
    extra_env: dict | None = None,
    compute_capability: str = "89",
):
    """Build a one-node model with ``trt-build`` under TensorRT-RTX.

    Returns:
        (the finished process, the sidecar dict or None).
    """
    import onnx

    n_in = len(spec.inputs)
    combo = next(
        (c for c in spec.type_combinations if all(t == dtype for t in c[:n_in])),
        spec.type_combinations[0],
    )
    shapes = spec.test_shapes(8, hidden) if spec.test_shapes else [(8, hidden)] * n_in
    model = single_node_model(spec, shapes, list(combo[:n_in]), spec.test_attrs, dynamic_rows=True)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{spec.name}.onnx"
    onnx.save(model, str(path))
    engine = workdir / f"{spec.name}.{backend}.plan"
    x_name = spec.inputs[0].name
    dims = "x".join(str(d) for d in shapes[0][1:])
    prof = ",".join(f"{r}x{dims}" if dims else f"{r}" for r in (1, 8, 64))
    env = dict(os.environ, TRTFORGE_TRT_FLAVOUR="tensorrt_rtx", **(extra_env or {}))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "trtforge.plugins.cli.build",
            str(path),
            "-o",
            str(engine),
            "--compute-capability",
            compute_capability,
            "--plugin-backend",
            backend,
            "--shapes",
            f"{x_name}:{prof}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    sidecar = None
    side = engine.with_name(engine.name + ".json")
    if proc.returncode == 0 and side.is_file():
        sidecar = json.loads(side.read_text())
    return proc, sidecar
