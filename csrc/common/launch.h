// The uniform call shape between a plugin's glue (IPluginV3::enqueue, or the Python binding)
// and its kernel: tensors as (pointer, type, dims), attributes as declared fields.
// No TensorRT, no pybind11.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/decl.h"
#include "common/dtype.h"

namespace trtforge {

constexpr int kMaxDims = 8;

struct TensorArg {
  void* data = nullptr;
  DType type = DType::kFLOAT;
  int32_t nbDims = 0;
  int64_t dims[kMaxDims] = {};

  int64_t volume() const {
    int64_t v = 1;
    for (int i = 0; i < nbDims; ++i) v *= dims[i];
    return v;
  }
};

struct AttrValue {
  std::vector<double> numbers;  // kFloat / kInt: one entry; kFloats / kInts: any
  std::string text;             // kString
};

// Attribute values in declaration order (defaults filled in by whoever builds them).
class Attrs {
 public:
  Attrs() = default;
  explicit Attrs(const PluginDecl* decl) : mDecl(decl), mValues(decl->nbFields) {
    for (int i = 0; i < decl->nbFields; ++i) {
      const FieldDecl& f = decl->fields[i];
      if (f.required) continue;
      if (f.kind == FieldKind::kString) mValues[i].text = f.defaultString ? f.defaultString : "";
      else if (f.kind == FieldKind::kFloat || f.kind == FieldKind::kInt)
        mValues[i].numbers = {f.defaultNumber};
    }
  }

  const PluginDecl* decl() const { return mDecl; }
  int index(const char* name) const {
    for (int i = 0; i < mDecl->nbFields; ++i)
      if (std::strcmp(mDecl->fields[i].name, name) == 0) return i;
    return -1;
  }
  AttrValue& at(int i) { return mValues.at(i); }
  const AttrValue& at(int i) const { return mValues.at(i); }
  int size() const { return static_cast<int>(mValues.size()); }

  double number(const char* name) const {
    const int i = index(name);
    if (i < 0 || mValues[i].numbers.empty())
      throw std::invalid_argument(std::string("attribute '") + name + "' is not set");
    return mValues[i].numbers[0];
  }
  float getFloat(const char* name) const { return static_cast<float>(number(name)); }
  int32_t getInt(const char* name) const { return static_cast<int32_t>(number(name)); }
  const std::string& getString(const char* name) const {
    const int i = index(name);
    if (i < 0) throw std::invalid_argument(std::string("no attribute '") + name + "'");
    return mValues[i].text;
  }

 private:
  const PluginDecl* mDecl = nullptr;
  std::vector<AttrValue> mValues;
};

struct LaunchArgs {
  const TensorArg* inputs;
  int32_t nbInputs;
  const TensorArg* outputs;
  int32_t nbOutputs;
  const Attrs* attrs;
  void* workspace;
  cudaStream_t stream;
};

// A plugin's adapter from LaunchArgs to its kernel. Throws std::invalid_argument for bad
// shapes or attributes (the glue turns that into an error report); returns CUDA errors.
using LaunchFn = cudaError_t (*)(const LaunchArgs&);

// Shape helpers for kernels that work on (rows, cols) views.
struct RowsCols {
  int64_t rows;
  int64_t cols;
};

inline RowsCols splitAt(const TensorArg& t, int32_t axis) {
  const int a = axis < 0 ? axis + t.nbDims : axis;
  if (a < 0 || a >= t.nbDims)
    throw std::invalid_argument("axis " + std::to_string(axis) + " is out of range for rank " +
                                std::to_string(t.nbDims));
  RowsCols rc{1, 1};
  for (int i = 0; i < a; ++i) rc.rows *= t.dims[i];
  for (int i = a; i < t.nbDims; ++i) rc.cols *= t.dims[i];
  return rc;
}

}  // namespace trtforge
