#include "layernorm/layernorm_launch.h"

#include "layernorm/layernorm_kernel.h"

namespace trtforge {

cudaError_t layerNormLaunch(const LaunchArgs& a) {
  const TensorArg& x = a.inputs[0];
  const TensorArg& gamma = a.inputs[1];
  const TensorArg& beta = a.inputs[2];
  const RowsCols rc = splitAt(x, a.attrs->getInt("axis"));
  if (gamma.volume() != rc.cols || beta.volume() != rc.cols)
    throw std::invalid_argument("gamma and beta must have X.shape[axis:] elements (" +
                                std::to_string(rc.cols) + "), got " +
                                std::to_string(gamma.volume()) + " and " +
                                std::to_string(beta.volume()));
  if (gamma.type != beta.type) throw std::invalid_argument("gamma and beta must share a type");
  return layerNormForward(x.data, gamma.data, beta.data, a.outputs[0].data, rc.rows, rc.cols,
                          x.type, gamma.type, a.attrs->getFloat("epsilon"), a.stream);
}

}  // namespace trtforge
