// SkipLayerNorm / SkipRMSNorm in the pybind11 module: trtforge._C.launch("trtforge::SkipLayerNorm/1", ...).
#include "common/binding.h"
#include "decl/SkipLayerNorm_v1.h"
#include "decl/SkipRMSNorm_v1.h"
#include "skipnorm/skipnorm_launch.h"

TRTFORGE_BIND_PLUGIN(trtforge::decl::SkipLayerNorm_v1, trtforge::skipLayerNormLaunch);
TRTFORGE_BIND_PLUGIN(trtforge::decl::SkipRMSNorm_v1, trtforge::skipRmsNormLaunch);
