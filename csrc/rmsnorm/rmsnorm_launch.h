// RMSNorm: LaunchArgs (tensors + attributes) -> kernel. No TensorRT, no pybind11.
#pragma once

#include "common/launch.h"

namespace trtforge {
cudaError_t rmsNormLaunch(const LaunchArgs& a);
}
