// The native plugin library's entry points (getCreators, setLoggerFinder) and the shared
// non-template parts of the IPluginV3 base. Not linked against TensorRT: only its headers.
#include <cstdio>
#include <mutex>

#include "common/plugin_base.h"

namespace trtforge {
namespace {
nvinfer1::ILoggerFinder* gLoggerFinder = nullptr;
std::mutex gLogMutex;
}  // namespace

void logMessage(nvinfer1::ILogger::Severity severity, const std::string& msg) {
  nvinfer1::ILogger* logger = nullptr;
  {
    std::lock_guard<std::mutex> lock(gLogMutex);
    if (gLoggerFinder) logger = gLoggerFinder->findLogger();
  }
  if (logger) {
    logger->log(severity, msg.c_str());
  } else {
    std::fprintf(stderr, "[trtforge] %s\n", msg.c_str());
  }
}

std::vector<nvinfer1::IPluginCreatorInterface*>& creatorList() {
  static std::vector<nvinfer1::IPluginCreatorInterface*> list;
  return list;
}

Attrs attrsFromFields(const PluginDecl& d, const nvinfer1::PluginFieldCollection* fc) {
  Attrs attrs(&d);
  std::vector<bool> seen(d.nbFields, false);
  for (int k = 0; fc && k < fc->nbFields; ++k) {
    const nvinfer1::PluginField& pf = fc->fields[k];
    if (!pf.name) continue;
    const int i = attrs.index(pf.name);
    if (i < 0) continue;  // the parser passes only declared names; ignore anything else
    const FieldDecl& f = d.fields[i];
    AttrValue& v = attrs.at(i);
    seen[i] = true;
    if (f.kind == FieldKind::kString) {
      if (pf.type != nvinfer1::PluginFieldType::kCHAR)
        throw std::invalid_argument(std::string("field '") + f.name + "' must be CHAR");
      const char* s = static_cast<const char*>(pf.data);
      size_t n = static_cast<size_t>(pf.length);
      while (n > 0 && s[n - 1] == '\0') --n;
      v.text.assign(s, n);
      continue;
    }
    v.numbers.clear();
    for (int j = 0; j < pf.length; ++j) {
      switch (pf.type) {
        case nvinfer1::PluginFieldType::kFLOAT32: v.numbers.push_back(static_cast<const float*>(pf.data)[j]); break;
        case nvinfer1::PluginFieldType::kFLOAT64: v.numbers.push_back(static_cast<const double*>(pf.data)[j]); break;
        case nvinfer1::PluginFieldType::kINT32: v.numbers.push_back(static_cast<const int32_t*>(pf.data)[j]); break;
        case nvinfer1::PluginFieldType::kINT64: v.numbers.push_back(static_cast<double>(static_cast<const int64_t*>(pf.data)[j])); break;
        case nvinfer1::PluginFieldType::kINT16: v.numbers.push_back(static_cast<const int16_t*>(pf.data)[j]); break;
        case nvinfer1::PluginFieldType::kINT8: v.numbers.push_back(static_cast<const int8_t*>(pf.data)[j]); break;
        default: throw std::invalid_argument(std::string("field '") + f.name + "' has an unsupported type");
      }
    }
    if ((f.kind == FieldKind::kFloat || f.kind == FieldKind::kInt) && v.numbers.size() != 1)
      throw std::invalid_argument(std::string("field '") + f.name + "' must hold one value");
  }
  for (int i = 0; i < d.nbFields; ++i)
    if (d.fields[i].required && !seen[i])
      throw std::invalid_argument(std::string("required field '") + d.fields[i].name + "' is missing");
  return attrs;
}

const nvinfer1::PluginFieldCollection* FieldStore::build(const Attrs& attrs) {
  const PluginDecl& d = *attrs.decl();
  mFloats.assign(d.nbFields, {});
  mInts.assign(d.nbFields, {});
  mStrings.assign(d.nbFields, {});
  mFields.clear();
  for (int i = 0; i < d.nbFields; ++i) {
    const FieldDecl& f = d.fields[i];
    const AttrValue& v = attrs.at(i);
    switch (f.kind) {
      case FieldKind::kFloat:
      case FieldKind::kFloats:
        for (double x : v.numbers) mFloats[i].push_back(static_cast<float>(x));
        mFields.emplace_back(f.name, mFloats[i].data(), nvinfer1::PluginFieldType::kFLOAT32,
                             static_cast<int32_t>(mFloats[i].size()));
        break;
      case FieldKind::kInt:
      case FieldKind::kInts:
        for (double x : v.numbers) mInts[i].push_back(static_cast<int32_t>(x));
        mFields.emplace_back(f.name, mInts[i].data(), nvinfer1::PluginFieldType::kINT32,
                             static_cast<int32_t>(mInts[i].size()));
        break;
      case FieldKind::kString:
        mStrings[i] = v.text;
        mFields.emplace_back(f.name, mStrings[i].c_str(), nvinfer1::PluginFieldType::kCHAR,
                             static_cast<int32_t>(mStrings[i].size() + 1));
        break;
    }
  }
  mFc.nbFields = static_cast<int32_t>(mFields.size());
  mFc.fields = mFields.data();
  return &mFc;
}

bool comboSupports(const PluginDecl& d, int32_t pos, const nvinfer1::DynamicPluginTensorDesc* inOut) {
  const int n = d.nbInputs + d.nbOutputs;
  for (int c = 0; c < d.nbCombos; ++c) {
    const DType* row = d.combos + c * n;
    bool ok = true;
    for (int k = 0; k <= pos && ok; ++k) ok = static_cast<int32_t>(inOut[k].desc.type) == static_cast<int32_t>(row[k]);
    if (ok) return true;
  }
  return false;
}

bool comboOutputs(const PluginDecl& d, const nvinfer1::DataType* in, nvinfer1::DataType* out) {
  const int n = d.nbInputs + d.nbOutputs;
  for (int c = 0; c < d.nbCombos; ++c) {
    const DType* row = d.combos + c * n;
    bool ok = true;
    for (int k = 0; k < d.nbInputs && ok; ++k) ok = static_cast<int32_t>(in[k]) == static_cast<int32_t>(row[k]);
    if (ok) {
      for (int k = 0; k < d.nbOutputs; ++k) out[k] = static_cast<nvinfer1::DataType>(row[d.nbInputs + k]);
      return true;
    }
  }
  return false;
}

}  // namespace trtforge

extern "C" {

// TensorRT calls this (load_library / --dynamicPlugins / a plugin library list) to find the
// IPluginV3 creators.
__attribute__((visibility("default"))) nvinfer1::IPluginCreatorInterface* const* getCreators(
    int32_t& nbCreators) {
  auto& list = trtforge::creatorList();
  nbCreators = static_cast<int32_t>(list.size());
  return list.data();
}

__attribute__((visibility("default"))) void setLoggerFinder(nvinfer1::ILoggerFinder* finder) {
  std::lock_guard<std::mutex> lock(trtforge::gLogMutex);
  trtforge::gLoggerFinder = finder;
}

}  // extern "C"
