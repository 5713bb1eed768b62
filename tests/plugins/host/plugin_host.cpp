// A TensorRT-free plugin host: drives a native plugin library's IPluginV3 plugins through the
// lifecycle TensorRT runs them through, on a real GPU, without TensorRT installed.
//
//   plugin_host LIBRARY CASE_FILE OUT_DIR
//
// CASE_FILE (text, one item per line):
//   plugin NAME VERSION NAMESPACE          ("-" for the empty namespace)
//   field NAME f32|i32|char VALUE...        (char: one word)
//   input DTYPE RANK D0 .. Dn PATH          (raw little-endian data; DTYPE = nvinfer1 enum value)
// For each output k it writes OUT_DIR/out<k>.bin and prints "output k DTYPE RANK D0 .. Dn", with
// a data-dependent extent replaced by the value the plugin wrote into its size tensor.
//
// Lifecycle (as the builder, then the runtime after deserialization): getCreators ->
// creator version check -> getFieldNames -> createPlugin(BUILD) -> capability interfaces ->
// getNbOutputs / getOutputDataTypes -> getOutputShapes with a real IExprBuilder (constants,
// operations, size tensors) -> supportsFormatCombination for every position -> configurePlugin
// -> getWorkspaceSize -> clone -> getFieldsToSerialize -> createPlugin(RUNTIME) from those
// fields -> attachToContext -> onShapeChange -> enqueue on device buffers (outputs poisoned)
// -> synchronize. Any refusal or error exits non-zero with one line saying which step failed.
#include <NvInferRuntime.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace nvinfer1;

namespace {

[[noreturn]] void fail(const std::string& step, const std::string& what) {
  std::fprintf(stderr, "plugin_host: %s: %s\n", step.c_str(), what.c_str());
  std::exit(1);
}

void cuda(cudaError_t e, const char* step) {
  if (e != cudaSuccess) fail(step, cudaGetErrorString(e));
}

// --- logger handed to the library (setLoggerFinder) ---------------------------------------
struct Logger : ILogger {
  int errors = 0;
  void log(Severity s, const char* msg) noexcept override {
    if (s <= Severity::kWARNING) std::fprintf(stderr, "[plugin] %s\n", msg);
    if (s <= Severity::kERROR) ++errors;
  }
};
Logger gLogger;
struct Finder : ILoggerFinder {
  ILogger* findLogger() override { return &gLogger; }
};
Finder gFinder;

// --- IExprBuilder: every expression is evaluated on the spot ------------------------------
struct Expr : IDimensionExpr {
  struct Impl : apiv::VDimensionExpr {
    bool constant = true;
    bool size = false;
    int64_t value = 0;  // the value, or the upper bound of a data-dependent extent
    int32_t sizeOutput = -1;
    bool isConstant() const override { return constant; }
    int64_t getConstantValue() const override { return constant ? value : -1; }
    bool isSizeTensor() const override { return size; }
  } impl;
  Expr() { mImpl = &impl; }
  const Impl& v() const { return impl; }
};

const Expr::Impl& implOf(const IDimensionExpr& e) { return static_cast<const Expr&>(e).v(); }

struct ExprBuilder : IExprBuilder {
  struct Impl : apiv::VExprBuilder {
    std::vector<std::unique_ptr<Expr>> pool;
    std::vector<std::pair<int32_t, int64_t>> sizeTensors;  // (output, upper)
    Expr* make() {
      pool.push_back(std::make_unique<Expr>());
      return pool.back().get();
    }
    const IDimensionExpr* constant(int64_t value) override {
      Expr* e = make();
      e->impl.value = value;
      return e;
    }
    const IDimensionExpr* operation(DimensionOperation op, const IDimensionExpr& a,
                                    const IDimensionExpr& b) override {
      const auto& x = implOf(a);
      const auto& y = implOf(b);
      int64_t r = 0;
      switch (op) {
        case DimensionOperation::kSUM: r = x.value + y.value; break;
        case DimensionOperation::kPROD: r = x.value * y.value; break;
        case DimensionOperation::kMAX: r = std::max(x.value, y.value); break;
        case DimensionOperation::kMIN: r = std::min(x.value, y.value); break;
        case DimensionOperation::kSUB: r = x.value - y.value; break;
        case DimensionOperation::kEQUAL: r = x.value == y.value; break;
        case DimensionOperation::kLESS: r = x.value < y.value; break;
        case DimensionOperation::kFLOOR_DIV:
          if (y.value == 0) fail("getOutputShapes", "division by zero");
          r = x.value / y.value - ((x.value % y.value != 0) && ((x.value < 0) != (y.value < 0)));
          break;
        case DimensionOperation::kCEIL_DIV:
          if (y.value == 0) fail("getOutputShapes", "division by zero");
          r = (x.value + y.value - 1) / y.value;
          break;
      }
      Expr* e = make();
      e->impl.value = r;
      e->impl.constant = x.constant && y.constant;  // upper-bound arithmetic otherwise
      return e;
    }
    const IDimensionExpr* declareSizeTensor(int32_t output, const IDimensionExpr& opt,
                                            const IDimensionExpr& upper) override {
      const auto& u = implOf(upper);
      if (!u.constant) fail("declareSizeTensor", "the upper bound must be a build-time constant");
      if (implOf(opt).value > u.value) fail("declareSizeTensor", "opt exceeds the upper bound");
      Expr* e = make();
      e->impl.constant = false;
      e->impl.size = true;
      e->impl.value = u.value;
      e->impl.sizeOutput = output;
      sizeTensors.emplace_back(output, u.value);
      return e;
    }
  } impl;
  ExprBuilder() { mImpl = &impl; }
};

struct ResourceContext : IPluginResourceContext {
  IGpuAllocator* getGpuAllocator() const noexcept override { return nullptr; }
  IErrorRecorder* getErrorRecorder() const noexcept override { return nullptr; }
};

size_t dtypeSize(DataType t) {
  switch (t) {
    case DataType::kFLOAT: case DataType::kINT32: return 4;
    case DataType::kHALF: case DataType::kBF16: return 2;
    case DataType::kINT64: return 8;
    default: return 1;
  }
}

struct Input {
  DataType type;
  Dims dims;
  std::vector<char> data;
};

struct Case {
  std::string name, version, nspace;
  std::vector<PluginField> fields;
  std::vector<std::vector<char>> fieldData;
  std::vector<std::string> fieldNames;
  std::vector<Input> inputs;
};

Case readCase(const char* path) {
  std::ifstream f(path);
  if (!f) fail("read case", std::string("cannot open ") + path);
  Case c;
  std::string line;
  std::vector<std::tuple<std::string, PluginFieldType, std::vector<char>, int32_t>> fields;
  while (std::getline(f, line)) {
    std::istringstream s(line);
    std::string kind;
    s >> kind;
    if (kind == "plugin") {
      s >> c.name >> c.version >> c.nspace;
      if (c.nspace == "-") c.nspace.clear();
    } else if (kind == "field") {
      std::string name, type;
      s >> name >> type;
      std::vector<char> bytes;
      int32_t n = 0;
      PluginFieldType t;
      if (type == "char") {
        std::string v;
        s >> v;
        bytes.assign(v.begin(), v.end());
        bytes.push_back('\0');
        n = static_cast<int32_t>(v.size() + 1);
        t = PluginFieldType::kCHAR;
      } else if (type == "f32") {
        float v;
        while (s >> v) { bytes.insert(bytes.end(), (char*)&v, (char*)&v + 4); ++n; }
        t = PluginFieldType::kFLOAT32;
      } else {
        int32_t v;
        while (s >> v) { bytes.insert(bytes.end(), (char*)&v, (char*)&v + 4); ++n; }
        t = PluginFieldType::kINT32;
      }
      fields.emplace_back(name, t, bytes, n);
    } else if (kind == "input") {
      Input in;
      int type, rank;
      s >> type >> rank;
      in.type = static_cast<DataType>(type);
      in.dims.nbDims = rank;
      int64_t vol = 1;
      for (int i = 0; i < rank; ++i) { s >> in.dims.d[i]; vol *= in.dims.d[i]; }
      std::string p;
      s >> p;
      std::ifstream d(p, std::ios::binary);
      in.data.assign(std::istreambuf_iterator<char>(d), {});
      if (static_cast<int64_t>(in.data.size()) != vol * static_cast<int64_t>(dtypeSize(in.type)))
        fail("read case", "input data size does not match its shape: " + p);
      c.inputs.push_back(std::move(in));
    }
  }
  for (auto& [name, t, bytes, n] : fields) {
    c.fieldNames.push_back(name);
    c.fieldData.push_back(bytes);
    (void)t; (void)n;
  }
  for (size_t i = 0; i < fields.size(); ++i)
    c.fields.emplace_back(c.fieldNames[i].c_str(), c.fieldData[i].data(), std::get<1>(fields[i]),
                          std::get<3>(fields[i]));
  return c;
}

template <class T>
T* capability(IPluginV3* p, PluginCapabilityType t, const char* what) {
  auto* c = p->getCapabilityInterface(t);
  if (c == nullptr) fail("getCapabilityInterface", std::string("no ") + what + " interface");
  return static_cast<T*>(c);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: plugin_host LIBRARY CASE_FILE OUT_DIR\n");
    return 2;
  }
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) fail("dlopen", dlerror());
  using GetCreators = IPluginCreatorInterface* const* (*)(int32_t&);
  using SetFinder = void (*)(ILoggerFinder*);
  auto getCreators = reinterpret_cast<GetCreators>(dlsym(lib, "getCreators"));
  auto setFinder = reinterpret_cast<SetFinder>(dlsym(lib, "setLoggerFinder"));
  if (getCreators == nullptr || setFinder == nullptr)
    fail("dlsym", "the library must export getCreators and setLoggerFinder");
  setFinder(&gFinder);
  const Case c = readCase(argv[2]);

  int32_t nbCreators = 0;
  IPluginCreatorInterface* const* creators = getCreators(nbCreators);
  IPluginCreatorV3One* creator = nullptr;
  for (int32_t i = 0; i < nbCreators; ++i) {
    const InterfaceInfo info = creators[i]->getInterfaceInfo();
    if (std::strcmp(info.kind, "PLUGIN CREATOR_V3ONE") != 0 || info.major != 1) continue;
    auto* cr = static_cast<IPluginCreatorV3One*>(creators[i]);
    if (c.name == cr->getPluginName() && c.version == cr->getPluginVersion() &&
        c.nspace == cr->getPluginNamespace())
      creator = cr;
  }
  if (creator == nullptr) fail("getCreators", "no IPluginCreatorV3One " + c.nspace + "::" + c.name);
  const PluginFieldCollection* names = creator->getFieldNames();
  for (const auto& f : c.fields) {
    bool declared = false;
    for (int32_t i = 0; names && i < names->nbFields; ++i)
      declared |= std::strcmp(names->fields[i].name, f.name) == 0 && names->fields[i].type == f.type;
    if (!declared) fail("getFieldNames", std::string("field '") + f.name + "' is not declared with that type");
  }
  PluginFieldCollection fc{static_cast<int32_t>(c.fields.size()), c.fields.data()};
  IPluginV3* plugin = creator->createPlugin("host", &fc, TensorRTPhase::kBUILD);
  if (plugin == nullptr) fail("createPlugin(BUILD)", "returned null");
  auto* core = capability<IPluginV3OneCore>(plugin, PluginCapabilityType::kCORE, "core");
  if (c.name != core->getPluginName() || c.version != core->getPluginVersion() ||
      c.nspace != core->getPluginNamespace())
    fail("IPluginV3OneCore", "the plugin's identity differs from its creator's");
  auto* build = capability<IPluginV3OneBuild>(plugin, PluginCapabilityType::kBUILD, "build");

  const int32_t nIn = static_cast<int32_t>(c.inputs.size());
  const int32_t nOut = build->getNbOutputs();
  if (nOut < 1) fail("getNbOutputs", "no outputs");
  std::vector<DataType> inTypes, outTypes(nOut);
  for (const auto& in : c.inputs) inTypes.push_back(in.type);
  if (build->getOutputDataTypes(outTypes.data(), nOut, inTypes.data(), nIn) != 0)
    fail("getOutputDataTypes", "refused the input types");

  ExprBuilder eb;
  std::vector<DimsExprs> inExprs(nIn), outExprs(nOut);
  for (int32_t i = 0; i < nIn; ++i) {
    inExprs[i].nbDims = c.inputs[i].dims.nbDims;
    for (int d = 0; d < inExprs[i].nbDims; ++d) inExprs[i].d[d] = eb.constant(c.inputs[i].dims.d[d]);
  }
  if (build->getOutputShapes(inExprs.data(), nIn, nullptr, 0, outExprs.data(), nOut, eb) != 0)
    fail("getOutputShapes", "returned an error");
  std::vector<Dims> outUpper(nOut);
  std::vector<int> sizeDimOf(nOut, -1);  // output k's data-dependent dim index, if any
  std::vector<int> sizeOutputOf(nOut, -1);
  for (int32_t k = 0; k < nOut; ++k) {
    outUpper[k].nbDims = outExprs[k].nbDims;
    for (int d = 0; d < outExprs[k].nbDims; ++d) {
      const auto& e = implOf(*outExprs[k].d[d]);
      outUpper[k].d[d] = e.value;
      if (!e.constant) {
        if (!e.size) fail("getOutputShapes", "a non-constant dim that is no size tensor");
        sizeDimOf[k] = d;
        sizeOutputOf[k] = e.sizeOutput;
      }
    }
  }
  for (auto [out, upper] : eb.impl.sizeTensors) {
    if (out < 0 || out >= nOut) fail("declareSizeTensor", "output index out of range");
    if (outUpper[out].nbDims != 0) fail("declareSizeTensor", "a size tensor must be 0-D");
    if (outTypes[out] != DataType::kINT32 && outTypes[out] != DataType::kINT64)
      fail("declareSizeTensor", "a size tensor must be int32 or int64");
  }

  std::vector<DynamicPluginTensorDesc> io(nIn + nOut);
  for (int32_t i = 0; i < nIn + nOut; ++i) {
    auto& d = io[i].desc;
    d.type = i < nIn ? c.inputs[i].type : outTypes[i - nIn];
    d.format = TensorFormat::kLINEAR;
    d.dims = i < nIn ? c.inputs[i].dims : outUpper[i - nIn];
    if (i >= nIn && sizeDimOf[i - nIn] >= 0) d.dims.d[sizeDimOf[i - nIn]] = -1;
    io[i].min = io[i].opt = io[i].max = d.dims;
  }
  for (int32_t pos = 0; pos < nIn + nOut; ++pos)
    if (!build->supportsFormatCombination(pos, io.data(), nIn, nOut))
      fail("supportsFormatCombination", "refused position " + std::to_string(pos));
  {  // a format it did not declare must be refused
    auto bad = io;
    bad[0].desc.format = TensorFormat::kCHW32;
    if (build->supportsFormatCombination(0, bad.data(), nIn, nOut))
      fail("supportsFormatCombination", "accepted a non-linear format");
  }
  if (build->configurePlugin(io.data(), nIn, io.data() + nIn, nOut) != 0)
    fail("configurePlugin", "returned an error");
  const size_t workspace = build->getWorkspaceSize(io.data(), nIn, io.data() + nIn, nOut);

  // serialize and recreate, as an engine does at deserialization
  IPluginV3* cloned = plugin->clone();
  if (cloned == nullptr) fail("clone", "returned null");
  auto* runtimeBuild = capability<IPluginV3OneRuntime>(plugin, PluginCapabilityType::kRUNTIME, "runtime");
  const PluginFieldCollection* saved = runtimeBuild->getFieldsToSerialize();
  if (saved == nullptr) fail("getFieldsToSerialize", "returned null");
  IPluginV3* restored = creator->createPlugin("host", saved, TensorRTPhase::kRUNTIME);
  if (restored == nullptr) fail("createPlugin(RUNTIME)", "could not recreate from serialized fields");
  auto* restoredRt = capability<IPluginV3OneRuntime>(restored, PluginCapabilityType::kRUNTIME, "runtime");
  ResourceContext ctx;
  IPluginV3* attached = restoredRt->attachToContext(&ctx);
  if (attached == nullptr) fail("attachToContext", "returned null");
  auto* rt = capability<IPluginV3OneRuntime>(attached, PluginCapabilityType::kRUNTIME, "runtime");

  std::vector<PluginTensorDesc> inDesc(nIn), outDesc(nOut);
  for (int32_t i = 0; i < nIn; ++i) inDesc[i] = io[i].desc;
  for (int32_t k = 0; k < nOut; ++k) { outDesc[k] = io[nIn + k].desc; outDesc[k].dims = outUpper[k]; }
  if (rt->onShapeChange(inDesc.data(), nIn, outDesc.data(), nOut) != 0)
    fail("onShapeChange", "returned an error");

  std::vector<void*> dIn(nIn), dOut(nOut);
  std::vector<size_t> outBytes(nOut);
  for (int32_t i = 0; i < nIn; ++i) {
    cuda(cudaMalloc(&dIn[i], std::max<size_t>(c.inputs[i].data.size(), 1)), "cudaMalloc");
    cuda(cudaMemcpy(dIn[i], c.inputs[i].data.data(), c.inputs[i].data.size(), cudaMemcpyHostToDevice), "cudaMemcpy");
  }
  for (int32_t k = 0; k < nOut; ++k) {
    int64_t vol = 1;
    for (int d = 0; d < outUpper[k].nbDims; ++d) vol *= outUpper[k].d[d];
    outBytes[k] = static_cast<size_t>(vol) * dtypeSize(outTypes[k]);
    cuda(cudaMalloc(&dOut[k], std::max<size_t>(outBytes[k], 1)), "cudaMalloc");
    cuda(cudaMemset(dOut[k], 0xFF, std::max<size_t>(outBytes[k], 1)), "cudaMemset");  // poison
  }
  void* ws = nullptr;
  if (workspace) cuda(cudaMalloc(&ws, workspace), "cudaMalloc(workspace)");
  cudaStream_t stream;
  cuda(cudaStreamCreate(&stream), "cudaStreamCreate");
  if (rt->enqueue(inDesc.data(), outDesc.data(), dIn.data(), dOut.data(), ws, stream) != 0)
    fail("enqueue", "returned an error");
  cuda(cudaStreamSynchronize(stream), "enqueue (kernel)");

  std::vector<std::vector<char>> host(nOut);
  for (int32_t k = 0; k < nOut; ++k) {
    host[k].resize(outBytes[k]);
    cuda(cudaMemcpy(host[k].data(), dOut[k], outBytes[k], cudaMemcpyDeviceToHost), "cudaMemcpy");
  }
  for (int32_t k = 0; k < nOut; ++k) {
    Dims dims = outUpper[k];
    if (sizeDimOf[k] >= 0) {
      const int s = sizeOutputOf[k];
      const int64_t n = outTypes[s] == DataType::kINT64 ? *reinterpret_cast<int64_t*>(host[s].data())
                                                       : *reinterpret_cast<int32_t*>(host[s].data());
      if (n < 0 || n > dims.d[sizeDimOf[k]]) fail("enqueue", "size tensor value outside [0, upper]");
      dims.d[sizeDimOf[k]] = n;
    }
    int64_t vol = 1;
    for (int d = 0; d < dims.nbDims; ++d) vol *= dims.d[d];
    const std::string path = std::string(argv[3]) + "/out" + std::to_string(k) + ".bin";
    std::ofstream o(path, std::ios::binary);
    o.write(host[k].data(), vol * dtypeSize(outTypes[k]));
    std::printf("output %d %d %d", k, static_cast<int>(outTypes[k]), dims.nbDims);
    for (int d = 0; d < dims.nbDims; ++d) std::printf(" %lld", static_cast<long long>(dims.d[d]));
    std::printf("\n");
  }
  std::printf("workspace %zu\n", workspace);
  delete attached;
  delete restored;
  delete cloned;
  delete plugin;
  for (auto p : dIn) cudaFree(p);
  for (auto p : dOut) cudaFree(p);
  if (ws) cudaFree(ws);
  cudaStreamDestroy(stream);
  if (gLogger.errors) fail("logger", std::to_string(gLogger.errors) + " error(s) reported by the plugin");
  return 0;
}
