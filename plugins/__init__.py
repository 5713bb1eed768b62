"""trtforge.plugins: the plugin SDK (declarations, IPluginV3 adapters, registration, trt-build)."""
