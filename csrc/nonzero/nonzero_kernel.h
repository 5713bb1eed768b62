// NonZero kernel launch function. No TensorRT, no pybind11.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "common/dtype.h"

namespace trtforge {

// Writes the indices of x's non-zero elements as y[d * count + k] (int64, [rank, count],
// row-major order of the elements) and count into *count (int64, device). x has `n` elements of
// type `t` and dims dims[0..rank). y must hold rank * n int64. No workspace.
cudaError_t nonZeroForward(const void* x, DType t, const int64_t* dims, int32_t rank, int64_t n,
                           int64_t* y, int64_t* count, cudaStream_t stream);

}  // namespace trtforge
