// ROIAlign_TRT (version 2) IPluginV3 glue: the output shape [R, C, output_height, output_width]
// comes from the inputs' shapes and two fields.
#include "common/plugin_base.h"
#include "decl/ROIAlign_TRT_v2.h"
#include "roialign/roialign_launch.h"

namespace trtforge {

struct RoiAlignPlugin : PluginBase<RoiAlignPlugin> {
  using PluginBase::PluginBase;
  static const PluginDecl& decl() { return decl::ROIAlign_TRT_v2; }
  static cudaError_t launch(const LaunchArgs& a) { return roiAlignLaunch(a); }

  int32_t outputShapes(const nvinfer1::DimsExprs* in, int32_t, nvinfer1::DimsExprs* out, int32_t,
                       nvinfer1::IExprBuilder& eb) const {
    if (in[0].nbDims != 4 || in[1].nbDims != 2)
      throw std::invalid_argument("X must be [N, C, H, W] and rois [R, 4]");
    out[0].nbDims = 4;
    out[0].d[0] = in[1].d[0];
    out[0].d[1] = in[0].d[1];
    out[0].d[2] = eb.constant(attrs().getInt("output_height"));
    out[0].d[3] = eb.constant(attrs().getInt("output_width"));
    return 0;
  }
};

TRTFORGE_REGISTER_PLUGIN(RoiAlignPlugin);

}  // namespace trtforge
