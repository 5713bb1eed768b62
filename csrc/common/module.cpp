// trtforge._C: the pybind11 module. Every plugin folder's *_binding.cpp registers its launch
// function; this module exposes them through one generic entry point.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

#include "common/binding.h"

namespace py = pybind11;

namespace trtforge {

std::vector<BoundPlugin>& boundPlugins() {
  static std::vector<BoundPlugin> list;
  return list;
}

namespace {

std::string keyOf(const PluginDecl& d) {
  return std::string(d.nspace) + "::" + d.name + "/" + d.version;
}

const BoundPlugin& find(const std::string& key) {
  for (const auto& b : boundPlugins())
    if (keyOf(*b.decl) == key) return b;
  throw py::key_error("no plugin '" + key + "' in trtforge._C");
}

TensorArg toArg(const py::handle& t) {
  // (data_ptr: int, dtype: int (nvinfer1::DataType value), shape: sequence of int)
  auto tup = py::reinterpret_borrow<py::tuple>(t);
  if (tup.size() != 3) throw std::invalid_argument("a tensor is (data_ptr, dtype, shape)");
  TensorArg a;
  a.data = reinterpret_cast<void*>(tup[0].cast<uintptr_t>());
  a.type = static_cast<DType>(tup[1].cast<int32_t>());
  auto shape = tup[2].cast<std::vector<int64_t>>();
  if (shape.size() > static_cast<size_t>(kMaxDims)) throw std::invalid_argument("rank > 8");
  a.nbDims = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) a.dims[i] = shape[i];
  return a;
}

Attrs toAttrs(const PluginDecl& d, const py::dict& attrs) {
  Attrs out(&d);
  for (auto item : attrs) {
    const std::string name = py::str(item.first);
    const int i = out.index(name.c_str());
    if (i < 0) throw std::invalid_argument("unknown attribute '" + name + "'");
    AttrValue& v = out.at(i);
    const FieldDecl& f = d.fields[i];
    if (f.kind == FieldKind::kString) {
      v.text = py::str(item.second);
    } else if (f.kind == FieldKind::kFloats || f.kind == FieldKind::kInts) {
      v.numbers = item.second.cast<std::vector<double>>();
    } else {
      v.numbers = {item.second.cast<double>()};
    }
  }
  for (int i = 0; i < d.nbFields; ++i)
    if (d.fields[i].required && out.at(i).numbers.empty() && out.at(i).text.empty())
      throw std::invalid_argument(std::string("attribute '") + d.fields[i].name + "' is required");
  return out;
}

}  // namespace
}  // namespace trtforge

PYBIND11_MODULE(_C, m) {
  using namespace trtforge;
  m.doc() = "trtforge CUDA kernels (the same adapters the native TensorRT plugins call)";
  m.def(
      "launch",
      [](const std::string& key, const py::list& inputs, const py::list& outputs,
         const py::dict& attrs, uintptr_t stream, uintptr_t workspace) {
        const BoundPlugin& b = find(key);
        if (static_cast<int>(inputs.size()) != b.decl->nbInputs ||
            static_cast<int>(outputs.size()) != b.decl->nbOutputs)
          throw std::invalid_argument(key + ": wrong number of inputs or outputs");
        std::vector<TensorArg> ins, outs;
        for (auto t : inputs) ins.push_back(toArg(t));
        for (auto t : outputs) outs.push_back(toArg(t));
        const Attrs a = toAttrs(*b.decl, attrs);
        cudaError_t err;
        {
          py::gil_scoped_release release;
          LaunchArgs args{ins.data(), static_cast<int32_t>(ins.size()), outs.data(),
                          static_cast<int32_t>(outs.size()), &a,
                          reinterpret_cast<void*>(workspace),
                          reinterpret_cast<cudaStream_t>(stream)};
          err = b.launch(args);
        }
        if (err != cudaSuccess)
          throw std::runtime_error(key + ": CUDA error: " + cudaGetErrorString(err));
      },
      py::arg("key"), py::arg("inputs"), py::arg("outputs"), py::arg("attrs") = py::dict(),
      py::arg("stream") = 0, py::arg("workspace") = 0,
      "Run a plugin's kernel. Tensors are (data_ptr, dtype, shape) with dtype the "
      "nvinfer1::DataType value; key is 'namespace::name/version'.");
  m.def("plugins", []() {
    std::vector<std::string> keys;
    for (const auto& b : boundPlugins()) keys.push_back(keyOf(*b.decl));
    return keys;
  });
  m.def("synchronize", []() {
    cudaError_t err;
    {
      py::gil_scoped_release release;
      err = cudaDeviceSynchronize();
    }
    if (err != cudaSuccess) throw std::runtime_error(cudaGetErrorString(err));
  });
#ifdef TRTFORGE_CUDA_ARCHS
  m.attr("cuda_architectures") = TRTFORGE_CUDA_ARCHS;
#endif
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const std::invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
}
