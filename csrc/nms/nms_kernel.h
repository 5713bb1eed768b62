// NonMaxSuppression kernel launch function. No TensorRT, no pybind11.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace trtforge {

struct NmsParams {
  const float* boxes;   // [batch, boxes, 4]
  const float* scores;  // [batch, classes, boxes]
  int64_t* selected;    // [K, 3] (batch, class, box), K <= batch * classes * perClass
  int64_t* count;       // K (device scalar)
  int64_t batch, classes, nBoxes;
  int64_t maxPerClass;
  float iouThreshold, scoreThreshold;
  bool centerPointBox;
};

// Bytes of workspace nmsForward needs.
size_t nmsWorkspaceSize(int64_t batch, int64_t classes, int64_t boxes, int64_t maxPerClass);

// onnxruntime's NonMaxSuppression semantics; `workspace` holds nmsWorkspaceSize bytes.
cudaError_t nmsForward(const NmsParams& p, void* workspace, cudaStream_t stream);

}  // namespace trtforge
