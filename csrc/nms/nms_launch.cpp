#include "nms/nms_launch.h"

#include "nms/nms_kernel.h"

namespace trtforge {

size_t nmsLaunchWorkspace(const int64_t* boxesDims, const int64_t* scoresDims, const Attrs& attrs) {
  return nmsWorkspaceSize(scoresDims[0], scoresDims[1], boxesDims[1],
                          attrs.getInt("max_output_boxes_per_class"));
}

cudaError_t nmsLaunch(const LaunchArgs& a) {
  const TensorArg& boxes = a.inputs[0];
  const TensorArg& scores = a.inputs[1];
  if (boxes.nbDims != 3 || boxes.dims[2] != 4) throw std::invalid_argument("boxes must be [B, N, 4]");
  if (scores.nbDims != 3 || scores.dims[0] != boxes.dims[0] || scores.dims[2] != boxes.dims[1])
    throw std::invalid_argument("scores must be [B, C, N] for boxes [B, N, 4]");
  if (boxes.type != DType::kFLOAT || scores.type != DType::kFLOAT)
    throw std::invalid_argument("boxes and scores must be float32");
  NmsParams p{};
  p.boxes = static_cast<const float*>(boxes.data);
  p.scores = static_cast<const float*>(scores.data);
  p.selected = static_cast<int64_t*>(a.outputs[0].data);
  p.count = static_cast<int64_t*>(a.outputs[1].data);
  p.batch = scores.dims[0];
  p.classes = scores.dims[1];
  p.nBoxes = boxes.dims[1];
  p.maxPerClass = a.attrs->getInt("max_output_boxes_per_class");
  p.iouThreshold = a.attrs->getFloat("iou_threshold");
  p.scoreThreshold = a.attrs->getFloat("score_threshold");
  p.centerPointBox = a.attrs->getInt("center_point_box") == 1;
  return nmsForward(p, a.workspace, a.stream);
}

}  // namespace trtforge
