// SkipLayerNorm / SkipRMSNorm: LaunchArgs (tensors + attributes) -> kernel. No TensorRT, no
// pybind11.
#pragma once

#include "common/launch.h"

namespace trtforge {
cudaError_t skipLayerNormLaunch(const LaunchArgs& a);
cudaError_t skipRmsNormLaunch(const LaunchArgs& a);
}  // namespace trtforge
