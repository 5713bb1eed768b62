#include "skipnorm/skipnorm_kernel.h"

#include "common/rownorm.cuh"

namespace trtforge {

cudaError_t skipNormForward(bool rms, const void* x, const void* skip, int64_t skipRows,
                            const void* gamma, const void* beta, const void* bias, void* y,
                            void* sum, int64_t rows, int64_t cols, DType io, DType w, float eps,
                            cudaStream_t stream) {
  rownorm::Params p{x, gamma, rms ? nullptr : beta, y, rows, cols, eps};
  p.skip = skip;
  p.bias = bias;
  p.sum = sum;
  p.skipRows = skipRows;
  return rms ? rownorm::launchSkip</*kRMS=*/true>(p, io, w, stream)
             : rownorm::launchSkip</*kRMS=*/false>(p, io, w, stream);
}

}  // namespace trtforge
