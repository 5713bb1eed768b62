// NonZero: LaunchArgs -> kernel. No TensorRT, no pybind11.
#pragma once

#include "common/launch.h"

namespace trtforge {
cudaError_t nonZeroLaunch(const LaunchArgs& a);
}
