// ROIAlign_TRT in the pybind11 module: trtforge._C.launch("::ROIAlign_TRT/2", ...).
#include "common/binding.h"
#include "decl/ROIAlign_TRT_v2.h"
#include "roialign/roialign_launch.h"

TRTFORGE_BIND_PLUGIN(trtforge::decl::ROIAlign_TRT_v2, trtforge::roiAlignLaunch);
