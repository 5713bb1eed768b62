// RMSNorm in the pybind11 module: trtforge._C.launch("trtforge::RMSNorm/1", ...).
#include "common/binding.h"
#include "decl/RMSNorm_v1.h"
#include "rmsnorm/rmsnorm_launch.h"

TRTFORGE_BIND_PLUGIN(trtforge::decl::RMSNorm_v1, trtforge::rmsNormLaunch);
