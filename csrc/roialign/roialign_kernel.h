// ROIAlign kernel launch function. No TensorRT, no pybind11.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "common/dtype.h"

namespace trtforge {

struct RoiAlignParams {
  const void* x;             // [n, c, h, w], type t
  const void* rois;          // [r, 4], type t
  const int32_t* batch;      // [r]
  void* y;                   // [r, c, oh, ow], type t
  int64_t n, c, h, w, r;
  int32_t oh, ow, samplingRatio;
  float spatialScale;
  bool halfPixel;  // coordinate_transformation_mode: half_pixel (else output_half_pixel)
  bool avg;        // mode: avg (else max)
};

// onnxruntime's RoiAlign semantics, float32 arithmetic; t is float32 or float16.
cudaError_t roiAlignForward(const RoiAlignParams& p, DType t, cudaStream_t stream);

}  // namespace trtforge
