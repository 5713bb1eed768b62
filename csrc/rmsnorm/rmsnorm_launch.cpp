#include "rmsnorm/rmsnorm_launch.h"

#include "rmsnorm/rmsnorm_kernel.h"

namespace trtforge {

cudaError_t rmsNormLaunch(const LaunchArgs& a) {
  const TensorArg& x = a.inputs[0];
  const TensorArg& gamma = a.inputs[1];
  const RowsCols rc = splitAt(x, a.attrs->getInt("axis"));
  if (gamma.volume() != rc.cols)
    throw std::invalid_argument("gamma must have X.shape[axis:] elements (" +
                                std::to_string(rc.cols) + "), got " +
                                std::to_string(gamma.volume()));
  return rmsNormForward(x.data, gamma.data, a.outputs[0].data, rc.rows, rc.cols, x.type,
                        gamma.type, a.attrs->getFloat("epsilon"), a.stream);
}

}  // namespace trtforge
