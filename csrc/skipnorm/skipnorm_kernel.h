// Residual add + LayerNorm / RMSNorm kernel launch functions. No TensorRT, no pybind11.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "common/dtype.h"

namespace trtforge {

// sum[r, :] = x[r, :] + skip[r % skipRows, :] + bias (bias may be nullptr), rounded to `io`;
// y[r, :] = norm(sum[r, :]) over `cols` contiguous elements, for r < rows. x, skip, bias, y and
// sum have type `io` (float32/float16/bfloat16); gamma (and beta, LayerNorm only: nullptr for
// RMSNorm) have type `w` (== io, or float32). float32 statistics; x and skip are read once,
// y and sum written once. rows must be a multiple of skipRows.
cudaError_t skipNormForward(bool rms, const void* x, const void* skip, int64_t skipRows,
                            const void* gamma, const void* beta, const void* bias, void* y,
                            void* sum, int64_t rows, int64_t cols, DType io, DType w, float eps,
                            cudaStream_t stream);

}  // namespace trtforge
