// Registers a plugin's launch function with the pybind11 module trtforge._C, so the Python
// IPluginV3 (and tests, benchmarks) call the same kernel adapter as the native plugin.
#pragma once

#include <string>
#include <vector>

#include "common/decl.h"
#include "common/launch.h"

namespace trtforge {

struct BoundPlugin {
  const PluginDecl* decl;
  LaunchFn launch;
};

std::vector<BoundPlugin>& boundPlugins();

struct BindingRegistrar {
  BindingRegistrar(const PluginDecl& d, LaunchFn fn) { boundPlugins().push_back({&d, fn}); }
};

}  // namespace trtforge

#define TRTFORGE_BCAT2(a, b) a##b
#define TRTFORGE_BCAT(a, b) TRTFORGE_BCAT2(a, b)
#define TRTFORGE_BIND_PLUGIN(DECL, FN) \
  static ::trtforge::BindingRegistrar TRTFORGE_BCAT(trtforgeBinding_, __LINE__)(DECL, FN)
