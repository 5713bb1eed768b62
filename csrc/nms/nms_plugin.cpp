// NonMaxSuppression IPluginV3 glue: output 0 is [K, 3] with K the value of output 1, a size
// tensor bounded by batch * classes * min(boxes, max_output_boxes_per_class); a workspace.
#include "common/plugin_base.h"
#include "decl/NMS_v1.h"
#include "nms/nms_launch.h"

namespace trtforge {

struct NmsPlugin : PluginBase<NmsPlugin> {
  using PluginBase::PluginBase;
  static const PluginDecl& decl() { return decl::NMS_v1; }
  static cudaError_t launch(const LaunchArgs& a) { return nmsLaunch(a); }

  int32_t outputShapes(const nvinfer1::DimsExprs* in, int32_t, nvinfer1::DimsExprs* out, int32_t,
                       nvinfer1::IExprBuilder& eb) const {
    using Op = nvinfer1::DimensionOperation;
    if (in[0].nbDims != 3 || in[1].nbDims != 3)
      throw std::invalid_argument("boxes must be [B, N, 4] and scores [B, C, N]");
    const int32_t maxOut = attrs().getInt("max_output_boxes_per_class");
    const auto* perClass = eb.operation(Op::kMIN, *in[0].d[1], *eb.constant(maxOut < 0 ? 0 : maxOut));
    const auto* pairs = eb.operation(Op::kPROD, *in[1].d[0], *in[1].d[1]);
    const auto* upper = eb.operation(Op::kPROD, *pairs, *perClass);
    const auto* opt = eb.operation(Op::kCEIL_DIV, *upper, *eb.constant(2));
    out[0].nbDims = 2;
    out[0].d[0] = eb.declareSizeTensor(1, *opt, *upper);
    out[0].d[1] = eb.constant(3);
    out[1].nbDims = 0;
    return 0;
  }

  size_t workspaceSize(const nvinfer1::DynamicPluginTensorDesc* in, int32_t) const {
    return nmsLaunchWorkspace(in[0].max.d, in[1].max.d, attrs());
  }
};

TRTFORGE_REGISTER_PLUGIN(NmsPlugin);

}  // namespace trtforge
