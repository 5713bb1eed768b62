// RMSNorm IPluginV3 glue: everything else comes from PluginBase and the declaration.
#include "common/plugin_base.h"
#include "decl/RMSNorm_v1.h"
#include "rmsnorm/rmsnorm_launch.h"

namespace trtforge {

struct RMSNormPlugin : PluginBase<RMSNormPlugin> {
  using PluginBase::PluginBase;
  static const PluginDecl& decl() { return decl::RMSNorm_v1; }
  static cudaError_t launch(const LaunchArgs& a) { return rmsNormLaunch(a); }
};

TRTFORGE_REGISTER_PLUGIN(RMSNormPlugin);

}  // namespace trtforge
