// LayerNorm in the pybind11 module: trtforge._C.launch("trtforge::LayerNorm/1", ...).
#include "common/binding.h"
#include "decl/LayerNorm_v1.h"
#include "layernorm/layernorm_launch.h"

TRTFORGE_BIND_PLUGIN(trtforge::decl::LayerNorm_v1, trtforge::layerNormLaunch);
