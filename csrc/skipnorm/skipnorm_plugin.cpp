// SkipLayerNorm / SkipRMSNorm IPluginV3 glue: both outputs shaped like X (the default), the
// rest from PluginBase and the declarations.
#include "common/plugin_base.h"
#include "decl/SkipLayerNorm_v1.h"
#include "decl/SkipRMSNorm_v1.h"
#include "skipnorm/skipnorm_launch.h"

namespace trtforge {

struct SkipLayerNormPlugin : PluginBase<SkipLayerNormPlugin> {
  using PluginBase::PluginBase;
  static const PluginDecl& decl() { return decl::SkipLayerNorm_v1; }
  static cudaError_t launch(const LaunchArgs& a) { return skipLayerNormLaunch(a); }
};

struct SkipRMSNormPlugin : PluginBase<SkipRMSNormPlugin> {
  using PluginBase::PluginBase;
  static const PluginDecl& decl() { return decl::SkipRMSNorm_v1; }
  static cudaError_t launch(const LaunchArgs& a) { return skipRmsNormLaunch(a); }
};

TRTFORGE_REGISTER_PLUGIN(SkipLayerNormPlugin);
TRTFORGE_REGISTER_PLUGIN(SkipRMSNormPlugin);

}  // namespace trtforge
