// The shared IPluginV3 base: every capability interface, clone, field (de)serialization,
// type/format support from the declared combinations, and noexcept wrappers that report errors
// through TensorRT's logger instead of throwing. A plugin's glue file is then a few lines:
//
//   struct LayerNormPlugin : PluginBase<LayerNormPlugin> {
//     using PluginBase::PluginBase;
//     static const PluginDecl& decl() { return decl::LayerNorm_v1; }
//     static cudaError_t launch(const LaunchArgs& a) { return layerNormLaunch(a); }
//   };
//   TRTFORGE_REGISTER_PLUGIN(LayerNormPlugin);
//
// Optional hooks on the derived class (static or member, found by name):
//   int32_t outputShapes(const DimsExprs* in, int32_t nIn, DimsExprs* out, int32_t nOut,
//                        IExprBuilder&) const;   // default: every output shaped like input 0
//   void check(const DynamicPluginTensorDesc* in, int32_t nIn) const;  // throw to refuse
//   size_t workspaceSize(const DynamicPluginTensorDesc* in, int32_t nIn) const;  // default 0
#pragma once

#include <NvInferRuntime.h>

#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "common/decl.h"
#include "common/launch.h"

namespace trtforge {

// Report an error or warning through the logger TensorRT handed over (setLoggerFinder),
// or stderr when there is none. Defined in plugin_lib.cpp.
void logMessage(nvinfer1::ILogger::Severity severity, const std::string& msg);

inline void reportError(const PluginDecl& d, const char* where, const std::string& what) {
  logMessage(nvinfer1::ILogger::Severity::kERROR,
             std::string("trtforge plugin ") + d.nspace + "::" + d.name + " (version " +
                 d.version + "): " + where + ": " + what);
}

// Runs `f`, turning any exception into an error report and `fallback`.
template <typename R, typename F>
R guarded(const PluginDecl& d, const char* where, R fallback, F&& f) noexcept {
  try {
    return f();
  } catch (const std::exception& e) {
    reportError(d, where, e.what());
  } catch (...) {
    reportError(d, where, "unknown exception");
  }
  return fallback;
}

inline TensorArg toArg(const nvinfer1::PluginTensorDesc& desc, const void* data) {
  TensorArg t;
  t.data = const_cast<void*>(data);
  t.type = static_cast<DType>(desc.type);
  t.nbDims = desc.dims.nbDims;
  for (int i = 0; i < desc.dims.nbDims && i < kMaxDims; ++i) t.dims[i] = desc.dims.d[i];
  return t;
}

// Attribute values ⇄ PluginFieldCollection.
Attrs attrsFromFields(const PluginDecl& d, const nvinfer1::PluginFieldCollection* fc);

class FieldStore {
 public:
  // Rebuilds the collection from `attrs`; the returned pointer lives as long as this store.
  const nvinfer1::PluginFieldCollection* build(const Attrs& attrs);

 private:
  std::vector<std::vector<float>> mFloats;
  std::vector<std::vector<int32_t>> mInts;
  std::vector<std::string> mStrings;
  std::vector<nvinfer1::PluginField> mFields;
  nvinfer1::PluginFieldCollection mFc{};
};

// Supported-combination lookup: is there a declared combination matching inOut[0..pos]?
bool comboSupports(const PluginDecl& d, int32_t pos, const nvinfer1::DynamicPluginTensorDesc* inOut);
// Output types for the given input types, from the declared combinations.
bool comboOutputs(const PluginDecl& d, const nvinfer1::DataType* in, nvinfer1::DataType* out);

template <class Derived>
class PluginBase : public nvinfer1::IPluginV3,
                   public nvinfer1::IPluginV3OneCore,
                   public nvinfer1::IPluginV3OneBuild,
                   public nvinfer1::IPluginV3OneRuntime {
 public:
  explicit PluginBase(Attrs attrs) : mAttrs(std::move(attrs)) {}
  PluginBase(const PluginBase& other) : mAttrs(other.mAttrs) {}
  ~PluginBase() override = default;

  const Attrs& attrs() const { return mAttrs; }
  static const PluginDecl& D() { return Derived::decl(); }

  // IPluginV3
  nvinfer1::IPluginCapability* getCapabilityInterface(
      nvinfer1::PluginCapabilityType type) noexcept override {
    switch (type) {
      case nvinfer1::PluginCapabilityType::kCORE: return static_cast<nvinfer1::IPluginV3OneCore*>(this);
      case nvinfer1::PluginCapabilityType::kBUILD: return static_cast<nvinfer1::IPluginV3OneBuild*>(this);
      case nvinfer1::PluginCapabilityType::kRUNTIME: return static_cast<nvinfer1::IPluginV3OneRuntime*>(this);
    }
    return nullptr;
  }
  nvinfer1::IPluginV3* clone() noexcept override {
    return guarded<nvinfer1::IPluginV3*>(D(), "clone", nullptr, [&]() -> nvinfer1::IPluginV3* {
      return new Derived(static_cast<const Derived&>(*this));
    });
  }

  // IPluginV3OneCore
  const char* getPluginName() const noexcept override { return D().name; }
  const char* getPluginVersion() const noexcept override { return D().version; }
  const char* getPluginNamespace() const noexcept override { return D().nspace; }

  // IPluginV3OneBuild
  int32_t getNbOutputs() const noexcept override { return D().nbOutputs; }

  int32_t configurePlugin(const nvinfer1::DynamicPluginTensorDesc* in, int32_t nIn,
                          const nvinfer1::DynamicPluginTensorDesc*, int32_t) noexcept override {
    return guarded<int32_t>(D(), "configurePlugin", -1, [&]() -> int32_t {
      static_cast<const Derived*>(this)->check(in, nIn);
      return 0;
    });
  }
  void check(const nvinfer1::DynamicPluginTensorDesc*, int32_t) const {}

  int32_t getOutputDataTypes(nvinfer1::DataType* out, int32_t nOut, const nvinfer1::DataType* in,
                             int32_t nIn) const noexcept override {
    return guarded<int32_t>(D(), "getOutputDataTypes", -1, [&]() -> int32_t {
      if (nIn != D().nbInputs || nOut != D().nbOutputs) throw std::invalid_argument("bad arity");
      if (comboOutputs(D(), in, out)) return 0;
      throw std::invalid_argument("unsupported input types (see the plugin's type combinations)");
    });
  }

  int32_t getOutputShapes(const nvinfer1::DimsExprs* in, int32_t nIn, const nvinfer1::DimsExprs*,
                          int32_t, nvinfer1::DimsExprs* out, int32_t nOut,
                          nvinfer1::IExprBuilder& eb) noexcept override {
    return guarded<int32_t>(D(), "getOutputShapes", -1, [&]() -> int32_t {
      return static_cast<const Derived*>(this)->outputShapes(in, nIn, out, nOut, eb);
    });
  }
  int32_t outputShapes(const nvinfer1::DimsExprs* in, int32_t, nvinfer1::DimsExprs* out,
                       int32_t nOut, nvinfer1::IExprBuilder&) const {
    for (int32_t i = 0; i < nOut; ++i) out[i] = in[0];
    return 0;
  }

  bool supportsFormatCombination(int32_t pos, const nvinfer1::DynamicPluginTensorDesc* inOut,
                                 int32_t nIn, int32_t nOut) noexcept override {
    return guarded<bool>(D(), "supportsFormatCombination", false, [&]() -> bool {
      if (nIn != D().nbInputs || nOut != D().nbOutputs || pos < 0 || pos >= nIn + nOut) return false;
      if (inOut[pos].desc.format != nvinfer1::TensorFormat::kLINEAR) return false;
      return comboSupports(D(), pos, inOut);
    });
  }

  size_t getWorkspaceSize(const nvinfer1::DynamicPluginTensorDesc* in, int32_t nIn,
                          const nvinfer1::DynamicPluginTensorDesc*, int32_t) const noexcept override {
    return guarded<size_t>(D(), "getWorkspaceSize", 0, [&]() -> size_t {
      return static_cast<const Derived*>(this)->workspaceSize(in, nIn);
    });
  }
  size_t workspaceSize(const nvinfer1::DynamicPluginTensorDesc*, int32_t) const { return 0; }

  // IPluginV3OneRuntime
  int32_t onShapeChange(const nvinfer1::PluginTensorDesc*, int32_t, const nvinfer1::PluginTensorDesc*,
                        int32_t) noexcept override {
    return 0;
  }

  int32_t enqueue(const nvinfer1::PluginTensorDesc* inDesc, const nvinfer1::PluginTensorDesc* outDesc,
                  const void* const* inputs, void* const* outputs, void* workspace,
                  cudaStream_t stream) noexcept override {
    return guarded<int32_t>(D(), "enqueue", -1, [&]() -> int32_t {
      TensorArg ins[16], outs[16];
      const int nIn = D().nbInputs, nOut = D().nbOutputs;
      if (nIn > 16 || nOut > 16) throw std::invalid_argument("too many tensors");
      for (int i = 0; i < nIn; ++i) ins[i] = toArg(inDesc[i], inputs[i]);
      for (int i = 0; i < nOut; ++i) outs[i] = toArg(outDesc[i], outputs[i]);
      LaunchArgs a{ins, nIn, outs, nOut, &mAttrs, workspace, stream};
      const cudaError_t err = Derived::launch(a);
      if (err != cudaSuccess) throw std::runtime_error(std::string("CUDA: ") + cudaGetErrorString(err));
      return 0;
    });
  }

  nvinfer1::IPluginV3* attachToContext(nvinfer1::IPluginResourceContext*) noexcept override {
    return clone();
  }

  const nvinfer1::PluginFieldCollection* getFieldsToSerialize() noexcept override {
    return guarded<const nvinfer1::PluginFieldCollection*>(
        D(), "getFieldsToSerialize", nullptr, [&]() { return mStore.build(mAttrs); });
  }

 private:
  Attrs mAttrs;
  FieldStore mStore;
};

// Creator for any PluginBase-derived plugin: field names and types from the declaration.
template <class P>
class Creator : public nvinfer1::IPluginCreatorV3One {
 public:
  Creator() {
    const PluginDecl& d = P::decl();
    for (int i = 0; i < d.nbFields; ++i) {
      const FieldDecl& f = d.fields[i];
      nvinfer1::PluginFieldType t = nvinfer1::PluginFieldType::kFLOAT32;
      if (f.kind == FieldKind::kInt || f.kind == FieldKind::kInts) t = nvinfer1::PluginFieldType::kINT32;
      if (f.kind == FieldKind::kString) t = nvinfer1::PluginFieldType::kCHAR;
      mFields.emplace_back(f.name, nullptr, t, 1);
    }
    mFc.nbFields = static_cast<int32_t>(mFields.size());
    mFc.fields = mFields.data();
  }
  const nvinfer1::PluginFieldCollection* getFieldNames() noexcept override { return &mFc; }
  const char* getPluginName() const noexcept override { return P::decl().name; }
  const char* getPluginVersion() const noexcept override { return P::decl().version; }
  const char* getPluginNamespace() const noexcept override { return P::decl().nspace; }
  nvinfer1::IPluginV3* createPlugin(const char*, const nvinfer1::PluginFieldCollection* fc,
                                    nvinfer1::TensorRTPhase) noexcept override {
    return guarded<nvinfer1::IPluginV3*>(P::decl(), "createPlugin", nullptr,
                                         [&]() -> nvinfer1::IPluginV3* {
                                           return new P(attrsFromFields(P::decl(), fc));
                                         });
  }

 private:
  std::vector<nvinfer1::PluginField> mFields;
  nvinfer1::PluginFieldCollection mFc{};
};

// The library's creators, filled by TRTFORGE_REGISTER_PLUGIN at load time.
std::vector<nvinfer1::IPluginCreatorInterface*>& creatorList();

struct CreatorRegistrar {
  explicit CreatorRegistrar(nvinfer1::IPluginCreatorInterface* c) { creatorList().push_back(c); }
};

#define TRTFORGE_CAT2(a, b) a##b
#define TRTFORGE_CAT(a, b) TRTFORGE_CAT2(a, b)
#define TRTFORGE_REGISTER_PLUGIN(P)                                                   \
  static ::trtforge::Creator<P> TRTFORGE_CAT(trtforgeCreator_, __LINE__);             \
  static ::trtforge::CreatorRegistrar TRTFORGE_CAT(trtforgeRegistrar_, __LINE__)(     \
      &TRTFORGE_CAT(trtforgeCreator_, __LINE__))

}  // namespace trtforge
