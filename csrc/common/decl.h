// What a plugin declaration says, as C++ data. The per-plugin instances are generated at build
// time from the Python declaration (plugins/decls/<name>.py) by plugins/_codegen.py into
// <build>/generated/decl/<Name>_v<version>.h. No TensorRT, no pybind11.
#pragma once

#include <cstdint>

#include "common/dtype.h"

namespace trtforge {

enum class FieldKind : int32_t { kFloat = 0, kInt = 1, kString = 2, kFloats = 3, kInts = 4 };

struct FieldDecl {
  const char* name;
  FieldKind kind;
  bool required;
  double defaultNumber;       // kFloat / kInt
  const char* defaultString;  // kString
};

struct PluginDecl {
  const char* name;
  const char* version;
  const char* nspace;
  int32_t nbInputs;
  int32_t nbOutputs;
  const FieldDecl* fields;
  int32_t nbFields;
  const DType* combos;  // nbCombos rows of (nbInputs + nbOutputs) types
  int32_t nbCombos;
};

}  // namespace trtforge
