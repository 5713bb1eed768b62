#include "nonzero/nonzero_launch.h"

#include "nonzero/nonzero_kernel.h"

namespace trtforge {

cudaError_t nonZeroLaunch(const LaunchArgs& a) {
  const TensorArg& x = a.inputs[0];
  if (a.outputs[0].type != DType::kINT64 || a.outputs[1].type != DType::kINT64)
    throw std::invalid_argument("NonZero's outputs are int64");
  if (x.nbDims < 1) throw std::invalid_argument("NonZero needs an input of rank >= 1");
  return nonZeroForward(x.data, x.type, x.dims, x.nbDims, x.volume(),
                        static_cast<int64_t*>(a.outputs[0].data),
                        static_cast<int64_t*>(a.outputs[1].data), a.stream);
}

}  // namespace trtforge
