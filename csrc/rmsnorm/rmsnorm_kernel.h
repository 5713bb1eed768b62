// RMSNorm kernel launch function. No TensorRT, no pybind11.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "common/dtype.h"

namespace trtforge {

// y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * gamma for r < rows, over `cols`
// contiguous elements. x and y have type `io` (float32/float16/bfloat16); gamma has type `w`
// (== io, or float32). float32 accumulation; x is read once.
cudaError_t rmsNormForward(const void* x, const void* gamma, void* y, int64_t rows, int64_t cols,
                           DType io, DType w, float eps, cudaStream_t stream);

}  // namespace trtforge
