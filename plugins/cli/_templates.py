"""Templates of ``trt-plugin new`` (string.Template: $Name, $mod, $ns, $fn)."""

DECL = '''"""$Name: identity (Y = X). Scaffolded by trt-plugin new: replace kernel and text."""

from __future__ import annotations

from trtforge.plugins.spec import PluginSpec, TensorSpec, Tolerance

# Declarations import only the standard library at module level (the build's code generator
# runs them without NumPy/onnx): import numpy inside functions.


def reference(inputs):
    """float64 NumPy reference: inputs in, outputs out."""
    (x,) = inputs
    return [x.copy()]


DECOMPOSITION = """
<domain: "$ns", opset_import: ["" : 18]>
$Name (X) => (Y)
{
    Y = Identity (X)
}
"""

SPEC = PluginSpec(
    name="$Name",
    version="1",
    namespace="$ns",
    inputs=(TensorSpec("X", "any shape"),),
    outputs=(TensorSpec("Y", "same shape and type as X"),),
    # Attributes become plugin fields, e.g. AttrSpec("alpha", "float", 1.0, "scale"); read them
    # in csrc/$mod/${mod}_launch.cpp with a.attrs->getFloat("alpha").
    attributes=(),
    type_combinations=(
        ("float32", "float32"),
        ("float16", "float16"),
        ("bfloat16", "bfloat16"),
    ),
    tolerances={
        "float32": Tolerance(rtol=0.0, atol=0.0),
        "float16": Tolerance(rtol=0.0, atol=0.0),
        "bfloat16": Tolerance(rtol=0.0, atol=0.0),
    },
    reference=reference,
    doc="Identity: Y = X. (Scaffold; say what your plugin computes.)",
    decomposition=DECOMPOSITION,
    test_shapes=lambda rows, hidden: [(rows, hidden)],
    test_attrs={},
)
'''

KERNEL_H = """// $Name kernel launch function. No TensorRT, no pybind11.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "common/dtype.h"

namespace trtforge {

// y[i] = x[i] for i < n elements of type `type`.
cudaError_t ${fn}Forward(const void* x, void* y, int64_t n, DType type, cudaStream_t stream);

}  // namespace trtforge
"""

KERNEL_CU = """#include "$mod/${mod}_kernel.h"

namespace trtforge {
namespace {

template <typename T>
__global__ void ${fn}Kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    y[i] = x[i];
  }
}

}  // namespace

cudaError_t ${fn}Forward(const void* x, void* y, int64_t n, DType type, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const int threads = 256;
  const int64_t blocks64 = (n + threads - 1) / threads;
  const unsigned blocks = static_cast<unsigned>(blocks64 < 65535 * 8 ? blocks64 : 65535 * 8);
  switch (dtypeSize(type)) {
    case 4:
      ${fn}Kernel<<<blocks, threads, 0, stream>>>(static_cast<const uint32_t*>(x),
                                                   static_cast<uint32_t*>(y), n);
      break;
    case 2:
      ${fn}Kernel<<<blocks, threads, 0, stream>>>(static_cast<const uint16_t*>(x),
                                                   static_cast<uint16_t*>(y), n);
      break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace trtforge
"""

LAUNCH_H = """// $Name: LaunchArgs (tensors + attributes) -> kernel. No TensorRT, no pybind11.
#pragma once

#include "common/launch.h"

namespace trtforge {
cudaError_t ${fn}Launch(const LaunchArgs& a);
}
"""

LAUNCH_CPP = """#include "$mod/${mod}_launch.h"

#include "$mod/${mod}_kernel.h"

namespace trtforge {

cudaError_t ${fn}Launch(const LaunchArgs& a) {
  const TensorArg& x = a.inputs[0];
  return ${fn}Forward(x.data, a.outputs[0].data, x.volume(), x.type, a.stream);
}

}  // namespace trtforge
"""

PLUGIN_CPP = """// $Name IPluginV3 glue: everything else comes from PluginBase and the declaration
// (plugins/decls/$mod.py -> generated decl/${Name}_v1.h).
#include "common/plugin_base.h"
#include "decl/${Name}_v1.h"
#include "$mod/${mod}_launch.h"

namespace trtforge {

struct ${Name}Plugin : PluginBase<${Name}Plugin> {
  using PluginBase::PluginBase;
  static const PluginDecl& decl() { return decl::${Name}_v1; }
  static cudaError_t launch(const LaunchArgs& a) { return ${fn}Launch(a); }
};

TRTFORGE_REGISTER_PLUGIN(${Name}Plugin);

}  // namespace trtforge
"""

BINDING_CPP = """// $Name in the pybind11 module: trtforge._C.launch("$ns::$Name/1", ...).
#include "common/binding.h"
#include "decl/${Name}_v1.h"
#include "$mod/${mod}_launch.h"

TRTFORGE_BIND_PLUGIN(trtforge::decl::${Name}_v1, trtforge::${fn}Launch);
"""

TEST = '''"""Tests of the $Name plugin (scaffolded by trt-plugin new)."""

from __future__ import annotations

import pytest

from trtforge.plugins import find_plugin, testing

SPEC = find_plugin("$Name", "1", "$ns")


def test_declared():
    assert SPEC is not None, "plugins/decls/$mod.py is not installed or not importable"


def test_reference_matches_decomposition():
    testing.check_decomposition(SPEC)


@pytest.mark.gpu
def test_kernel_matches_reference(gpu):
    testing.check_kernel(SPEC, hidden_sizes=(1, 3, 128, 1000, 4096), row_counts=(1, 7, 64))


@pytest.mark.parser
@pytest.mark.parametrize("backend", ["native", "python"])
def test_engine_builds_under_tensorrt_rtx(rtx, native_lib, backend, tmp_path):
    proc, sidecar = testing.build_rtx_engine(SPEC, tmp_path, backend=backend)
    assert proc.returncode == 0, proc.stderr
    assert sidecar["plugins"][0]["name"] == "$Name"
'''
