// NonZero in the pybind11 module: trtforge._C.launch("::NonZero/1", ...).
#include "common/binding.h"
#include "decl/NonZero_v1.h"
#include "nonzero/nonzero_launch.h"

TRTFORGE_BIND_PLUGIN(trtforge::decl::NonZero_v1, trtforge::nonZeroLaunch);
