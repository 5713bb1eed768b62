// LayerNorm IPluginV3 glue: everything else comes from PluginBase and the declaration.
#include "common/plugin_base.h"
#include "decl/LayerNorm_v1.h"
#include "layernorm/layernorm_launch.h"

namespace trtforge {

struct LayerNormPlugin : PluginBase<LayerNormPlugin> {
  using PluginBase::PluginBase;
  static const PluginDecl& decl() { return decl::LayerNorm_v1; }
  static cudaError_t launch(const LaunchArgs& a) { return layerNormLaunch(a); }
};

TRTFORGE_REGISTER_PLUGIN(LayerNormPlugin);

}  // namespace trtforge
