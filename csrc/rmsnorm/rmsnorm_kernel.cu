#include "rmsnorm/rmsnorm_kernel.h"

#include "common/rownorm.cuh"

namespace trtforge {

cudaError_t rmsNormForward(const void* x, const void* gamma, void* y, int64_t rows, int64_t cols,
                           DType io, DType w, float eps, cudaStream_t stream) {
  rownorm::Params p{x, gamma, nullptr, y, rows, cols, eps};
  return rownorm::launch</*kRMS=*/true>(p, io, w, stream);
}

}  // namespace trtforge
