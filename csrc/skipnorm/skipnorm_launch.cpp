#include "skipnorm/skipnorm_launch.h"

#include "skipnorm/skipnorm_kernel.h"

namespace trtforge {

namespace {

// Rows of `skip`: it must be X's trailing dims (leading dims absent or 1), as onnxruntime and
// ONNX broadcasting allow: (batch, seq, hidden), (1, seq, hidden) or (seq, hidden).
int64_t skipRowsOf(const TensorArg& x, const TensorArg& skip) {
  int lead = 0;
  while (lead < skip.nbDims - 1 && skip.dims[lead] == 1) ++lead;
  const int n = skip.nbDims - lead;
  bool ok = n >= 1 && n <= x.nbDims;
  for (int i = 0; ok && i < n; ++i) ok = skip.dims[lead + i] == x.dims[x.nbDims - n + i];
  if (!ok) throw std::invalid_argument("skip must have X's trailing dims (leading dims 1 or absent)");
  const int64_t hidden = x.dims[x.nbDims - 1];
  return hidden > 0 ? skip.volume() / hidden : 0;
}

cudaError_t run(const LaunchArgs& a, bool rms) {
  const TensorArg& x = a.inputs[0];
  const TensorArg& skip = a.inputs[1];
  const TensorArg& gamma = a.inputs[2];
  const TensorArg* beta = rms ? nullptr : &a.inputs[3];
  const TensorArg& bias = a.inputs[rms ? 3 : 4];
  if (x.nbDims < 1) throw std::invalid_argument("X must have at least one dim");
  const RowsCols rc = splitAt(x, -1);
  if (gamma.volume() != rc.cols || (beta && beta->volume() != rc.cols) ||
      bias.volume() != rc.cols)
    throw std::invalid_argument("gamma, beta and bias must have hidden = X.shape[-1] (" +
                                std::to_string(rc.cols) + ") elements");
  if (beta && gamma.type != beta->type) throw std::invalid_argument("gamma and beta must share a type");
  if (skip.type != x.type || bias.type != x.type)
    throw std::invalid_argument("skip and bias must have X's type");
  const int64_t skipRows = skipRowsOf(x, skip);
  if (rc.rows == 0) return cudaSuccess;
  return skipNormForward(rms, x.data, skip.data, skipRows, gamma.data, beta ? beta->data : nullptr,
                         bias.data, a.outputs[0].data, a.outputs[1].data, rc.rows, rc.cols,
                         x.type, gamma.type, a.attrs->getFloat("epsilon"), a.stream);
}

}  // namespace

cudaError_t skipLayerNormLaunch(const LaunchArgs& a) { return run(a, false); }
cudaError_t skipRmsNormLaunch(const LaunchArgs& a) { return run(a, true); }

}  // namespace trtforge
