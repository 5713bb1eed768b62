// LayerNorm kernel launch function. No TensorRT, no pybind11.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "common/dtype.h"

namespace trtforge {

// y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * gamma + beta for r < rows, over `cols`
// contiguous elements. x and y have type `io` (float32/float16/bfloat16); gamma and beta
// have type `w` (== io, or float32). float32 accumulation; x is read once.
cudaError_t layerNormForward(const void* x, const void* gamma, const void* beta, void* y,
                             int64_t rows, int64_t cols, DType io, DType w, float eps,
                             cudaStream_t stream);

}  // namespace trtforge
