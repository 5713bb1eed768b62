#include "layernorm/layernorm_kernel.h"

#include "common/rownorm.cuh"

namespace trtforge {

cudaError_t layerNormForward(const void* x, const void* gamma, const void* beta, void* y,
                             int64_t rows, int64_t cols, DType io, DType w, float eps,
                             cudaStream_t stream) {
  rownorm::Params p{x, gamma, beta, y, rows, cols, eps};
  return rownorm::launch</*kRMS=*/false>(p, io, w, stream);
}

}  // namespace trtforge
