// Data types shared by kernels, plugin glue and bindings. No TensorRT, no pybind11.
// The enum values equal nvinfer1::DataType's so the glue converts by a cast.
#pragma once

#include <cstddef>
#include <cstdint>

namespace trtforge {

enum class DType : int32_t {
  kFLOAT = 0,
  kHALF = 1,
  kINT8 = 2,
  kINT32 = 3,
  kBOOL = 4,
  kUINT8 = 5,
  kBF16 = 7,
  kINT64 = 8,
};

inline size_t dtypeSize(DType t) {
  switch (t) {
    case DType::kFLOAT: case DType::kINT32: return 4;
    case DType::kHALF: case DType::kBF16: return 2;
    case DType::kINT8: case DType::kBOOL: case DType::kUINT8: return 1;
    case DType::kINT64: return 8;
  }
  return 0;
}

inline const char* dtypeName(DType t) {
  switch (t) {
    case DType::kFLOAT: return "float32";
    case DType::kHALF: return "float16";
    case DType::kINT8: return "int8";
    case DType::kINT32: return "int32";
    case DType::kBOOL: return "bool";
    case DType::kUINT8: return "uint8";
    case DType::kBF16: return "bfloat16";
    case DType::kINT64: return "int64";
  }
  return "?";
}

}  // namespace trtforge
