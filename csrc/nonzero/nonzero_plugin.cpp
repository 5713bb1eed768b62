// NonZero IPluginV3 glue: a data-dependent output. Output 0 is [rank(X), count] where count is
// the value of output 1, a size tensor declared with X's element count as its upper bound.
#include "common/plugin_base.h"
#include "decl/NonZero_v1.h"
#include "nonzero/nonzero_launch.h"

namespace trtforge {

struct NonZeroPlugin : PluginBase<NonZeroPlugin> {
  using PluginBase::PluginBase;
  static const PluginDecl& decl() { return decl::NonZero_v1; }
  static cudaError_t launch(const LaunchArgs& a) { return nonZeroLaunch(a); }

  int32_t outputShapes(const nvinfer1::DimsExprs* in, int32_t, nvinfer1::DimsExprs* out, int32_t,
                       nvinfer1::IExprBuilder& eb) const {
    if (in[0].nbDims < 1) throw std::invalid_argument("NonZero needs an input of rank >= 1");
    const nvinfer1::IDimensionExpr* upper = eb.constant(1);
    for (int i = 0; i < in[0].nbDims; ++i)
      upper = eb.operation(nvinfer1::DimensionOperation::kPROD, *upper, *in[0].d[i]);
    // the optimum TensorRT plans for: half the elements non-zero
    const nvinfer1::IDimensionExpr* opt =
        eb.operation(nvinfer1::DimensionOperation::kCEIL_DIV, *upper, *eb.constant(2));
    out[0].nbDims = 2;
    out[0].d[0] = eb.constant(in[0].nbDims);
    out[0].d[1] = eb.declareSizeTensor(1, *opt, *upper);
    out[1].nbDims = 0;
    return 0;
  }
};

TRTFORGE_REGISTER_PLUGIN(NonZeroPlugin);

}  // namespace trtforge
