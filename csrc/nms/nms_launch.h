// NonMaxSuppression: LaunchArgs -> kernel. No TensorRT, no pybind11.
#pragma once

#include <cstddef>

#include "common/launch.h"

namespace trtforge {
cudaError_t nmsLaunch(const LaunchArgs& a);
// Workspace bytes for boxes [batch, n, 4] and scores [batch, classes, n] under `attrs`.
size_t nmsLaunchWorkspace(const int64_t* boxesDims, const int64_t* scoresDims, const Attrs& attrs);
}  // namespace trtforge
