#include "roialign/roialign_launch.h"

#include "roialign/roialign_kernel.h"

namespace trtforge {

cudaError_t roiAlignLaunch(const LaunchArgs& a) {
  const TensorArg& x = a.inputs[0];
  const TensorArg& rois = a.inputs[1];
  const TensorArg& batch = a.inputs[2];
  if (x.nbDims != 4) throw std::invalid_argument("X must be [N, C, H, W]");
  if (rois.nbDims != 2 || rois.dims[1] != 4) throw std::invalid_argument("rois must be [R, 4]");
  if (batch.volume() != rois.dims[0])
    throw std::invalid_argument("batch_indices must have one entry per roi");
  if (batch.type != DType::kINT32) throw std::invalid_argument("batch_indices must be int32");
  if (rois.type != x.type) throw std::invalid_argument("rois must have X's type");
  RoiAlignParams p{};
  p.x = x.data;
  p.rois = rois.data;
  p.batch = static_cast<const int32_t*>(batch.data);
  p.y = a.outputs[0].data;
  p.n = x.dims[0];
  p.c = x.dims[1];
  p.h = x.dims[2];
  p.w = x.dims[3];
  p.r = rois.dims[0];
  p.oh = a.attrs->getInt("output_height");
  p.ow = a.attrs->getInt("output_width");
  if (p.oh < 1 || p.ow < 1) throw std::invalid_argument("output_height/width must be >= 1");
  p.samplingRatio = a.attrs->getInt("sampling_ratio");
  p.spatialScale = a.attrs->getFloat("spatial_scale");
  p.halfPixel = a.attrs->getInt("coordinate_transformation_mode") == 1;
  p.avg = a.attrs->getInt("mode") == 1;
  return roiAlignForward(p, x.type, a.stream);
}

}  // namespace trtforge
