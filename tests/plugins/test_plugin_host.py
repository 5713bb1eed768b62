"""GPU: every native plugin through the IPluginV3 lifecycle as TensorRT drives it, without
TensorRT — tests/plugins/host/plugin_host.cpp loads libtrtforge_plugins.so, creates each plugin
from fields, evaluates getOutputShapes with a real IExprBuilder (size tensors included), checks
format support, configures, serializes and recreates it, and enqueues on device buffers; the
outputs are held to the declaration's NumPy reference. Skips without a GPU, the native library,
a C++ compiler or TensorRT headers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import gpu_available

from trtforge.plugins import catalog, harness, testing
from trtforge.plugins.spec import DTYPES

pytestmark = pytest.mark.gpu

HOST_SRC = Path(__file__).parent / "host" / "plugin_host.cpp"
_BY_ENUM = {v[0]: k for k, v in DTYPES.items()}


def _trt_headers() -> Path | None:
    """TensorRT headers: TRTFORGE_TRT_INCLUDE_DIR, TensorRT_ROOT, kernel-lens, or a build tree."""
    cands = [os.environ.get("TRTFORGE_TRT_INCLUDE_DIR", "")]
    if os.environ.get("TensorRT_ROOT"):
        cands.append(os.path.join(os.environ["TensorRT_ROOT"], "include"))
    try:
        import kernel_lens

        cands.append(str(Path(kernel_lens.__file__).parent / "include" / "tensorrt"))
    except ImportError:
        pass
    root = Path(__file__).resolve().parents[2] / "build"
    cands += [str(p.parent) for p in root.glob("**/kernel_lens/include/tensorrt/NvInferRuntime.h")]
    for c in cands:
        if c and (Path(c) / "NvInferRuntime.h").is_file():
            return Path(c)
    return None


def _cuda_root() -> Path | None:
    for c in (os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if c and (Path(c) / "include" / "cuda_runtime.h").is_file():
            return Path(c)
    nvcc = shutil.which("nvcc")
    return Path(nvcc).resolve().parents[1] if nvcc else None


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    if not gpu_available():
        pytest.skip("needs a CUDA GPU (and CuPy to see it)")
    lib = catalog.native_library_path()
    if lib is None:
        pytest.skip("libtrtforge_plugins.so was not built")
    headers, cuda, cxx = _trt_headers(), _cuda_root(), shutil.which("g++") or shutil.which("c++")
    if headers is None or cuda is None or cxx is None:
        pytest.skip("needs TensorRT headers, the CUDA toolkit and a C++ compiler")
    exe = tmp_path_factory.mktemp("host") / "plugin_host"
    libdir = cuda / "lib64" if (cuda / "lib64").is_dir() else cuda / "lib"
    cmd = [cxx, "-std=c++17", "-O1", "-o", str(exe), str(HOST_SRC), "-isystem", str(headers)]
    cmd += ["-I", str(cuda / "include"), "-L", str(libdir), "-lcudart", "-ldl"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return exe, lib


def _field_line(spec, name, value) -> str:
    kind = spec.attribute(name).type
    if kind == "string":
        return f"field {name} char {value}"
    vals = value if isinstance(value, list) else [value]
    tag = "f32" if kind in ("float", "floats") else "i32"
    return f"field {name} {tag} " + " ".join(str(v) for v in vals)


def _run(host, spec, inputs, attrs, work: Path):
    exe, lib = host
    work.mkdir(parents=True, exist_ok=True)
    lines = [f"plugin {spec.name} {spec.version} {spec.namespace or '-'}"]
    lines += [_field_line(spec, k, v) for k, v in spec.resolve_attrs(attrs).items()]
    for i, a in enumerate(inputs):
        path = work / f"in{i}.bin"
        np.ascontiguousarray(a).tofile(path)
        dims = " ".join(str(d) for d in a.shape)
        lines.append(f"input {DTYPES[str(a.dtype)][0]} {a.ndim} {dims} {path}".replace("  ", " "))
    (work / "case.txt").write_text("\n".join(lines) + "\n")
    proc = subprocess.run(
        [str(exe), str(lib), str(work / "case.txt"), str(work)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    outs = []
    for line in proc.stdout.splitlines():
        if line.startswith("output "):
            k, t, rank, *dims = (int(v) for v in line.split()[1:])
            data = np.fromfile(work / f"out{k}.bin", dtype=harness.np_dtype(_BY_ENUM[t]))
            outs.append(data.reshape(dims[:rank]))
    return outs


def _specs():
    return [s for s in catalog.all_plugins()]


@pytest.mark.parametrize("spec", _specs(), ids=lambda s: s.name)
def test_plugin_lifecycle_matches_reference(host, spec, tmp_path):
    if not catalog.is_available(spec):
        pytest.skip(f"{spec.qualified_name} has no kernel in this build")
    for n, (inputs, attrs) in enumerate(testing.declared_cases(spec, np.random.default_rng(5))):
        outs = _run(host, spec, inputs, attrs, tmp_path / f"case{n}")
        refs = spec.run_reference(inputs, attrs)
        assert len(outs) == len(refs)
        for out, ref in zip(outs, refs, strict=True):
            assert out.shape == ref.shape and out.dtype == ref.dtype, (n, out.shape, ref.shape)
            tol = spec.tolerances.get(str(ref.dtype))
            if tol is None or np.issubdtype(ref.dtype, np.integer) or ref.dtype == np.bool_:
                np.testing.assert_array_equal(out, ref, err_msg=f"case {n}")
            else:
                o, r = out.astype(np.float64), ref.astype(np.float64)
                assert np.isfinite(o).all(), f"case {n}: unwritten output elements"
                np.testing.assert_allclose(o, r, rtol=tol.rtol, atol=tol.atol * 4, err_msg=f"{n}")
