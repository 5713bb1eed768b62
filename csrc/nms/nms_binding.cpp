// NonMaxSuppression in the pybind11 module: trtforge._C.launch("trtforge::NMS/1").
#include "common/binding.h"
#include "decl/NMS_v1.h"
#include "nms/nms_launch.h"

TRTFORGE_BIND_PLUGIN(trtforge::decl::NMS_v1, trtforge::nmsLaunch);
