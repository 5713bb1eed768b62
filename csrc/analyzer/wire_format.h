// The protobuf wire format, read and written by hand: what the analyzer's native modules that
// take serialized ONNX messages apart (wire.cpp, split.cpp) share.
//
// A reader never trusts a length: each one is checked against the bytes left, and anything
// unexpected (a group, a truncated field) makes the caller give up, never read past the end.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace trtforge::wire_format {

struct Reader {
  const uint8_t* p;
  const uint8_t* end;

  bool varint(uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) return false;
      uint8_t byte = *p++;
      value |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return true;
    }
    return false;
  }

  // A length-delimited field's payload.
  bool bytes(std::string_view& out) {
    uint64_t size;
    if (!varint(size) || size > static_cast<uint64_t>(end - p)) return false;
    out = std::string_view(reinterpret_cast<const char*>(p), size);
    p += size;
    return true;
  }

  // Skips a field of `wire_type` (groups are not expected in ONNX: refused).
  bool skip(uint32_t wire_type) {
    uint64_t ignored;
    std::string_view payload;
    switch (wire_type) {
      case 0: return varint(ignored);
      case 1: if (end - p < 8) return false; p += 8; return true;
      case 2: return bytes(payload);
      case 5: if (end - p < 4) return false; p += 4; return true;
      default: return false;
    }
  }
};

struct PyRef {  // an owned reference, released unless handed over
  PyObject* obj = nullptr;
  explicit PyRef(PyObject* o = nullptr) : obj(o) {}
  ~PyRef() { Py_XDECREF(obj); }
  PyRef(const PyRef&) = delete;
  PyRef& operator=(const PyRef&) = delete;
  PyObject* release() { PyObject* o = obj; obj = nullptr; return o; }
};

// Walks a message and calls `on(field, payload)` for each length-delimited field; false when
// the bytes are malformed or `on` refuses.
template <typename On>
bool each_field(std::string_view message, On on) {
  Reader r{reinterpret_cast<const uint8_t*>(message.data()),
           reinterpret_cast<const uint8_t*>(message.data()) + message.size()};
  while (r.p < r.end) {
    uint64_t tag;
    if (!r.varint(tag) || (tag >> 3) == 0) return false;
    if ((tag & 7) == 2) {
      std::string_view payload;
      if (!r.bytes(payload) || !on(static_cast<uint32_t>(tag >> 3), payload)) return false;
    } else if (!r.skip(static_cast<uint32_t>(tag & 7))) {
      return false;
    }
  }
  return true;
}

// Walks a message field by field: `on(field, wire_type, whole field bytes, payload)` (payload:
// a length-delimited field's contents, else empty); false when the bytes are malformed or `on`
// refuses.
template <typename On>
bool each_raw_field(std::string_view message, On on) {
  Reader r{reinterpret_cast<const uint8_t*>(message.data()),
           reinterpret_cast<const uint8_t*>(message.data()) + message.size()};
  while (r.p < r.end) {
    const uint8_t* start = r.p;
    uint64_t tag;
    if (!r.varint(tag) || (tag >> 3) == 0) return false;
    uint32_t wire = static_cast<uint32_t>(tag & 7);
    std::string_view payload;
    if (wire == 2) {
      if (!r.bytes(payload)) return false;
    } else if (!r.skip(wire)) {
      return false;
    }
    std::string_view whole(reinterpret_cast<const char*>(start), static_cast<size_t>(r.p - start));
    if (!on(static_cast<uint32_t>(tag >> 3), wire, whole, payload)) return false;
  }
  return true;
}

// Appends a varint.
inline void put_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Appends a length-delimited field.
inline void put_field(std::string& out, uint32_t field, std::string_view payload) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | 2);
  put_varint(out, payload.size());
  out.append(payload.data(), payload.size());
}

// The digits of the short names the native modules make up.
inline constexpr char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// `prefix` and `number` in base 62 (kDigits, least significant first): "0", "1", ... "10"
// (62), ... ; at most 4 digits below 62^4 (14.7 million).
inline std::string short_name(size_t number, std::string_view prefix = {}) {
  std::string name(prefix);
  do {
    name.push_back(kDigits[number % 62]);
    number /= 62;
  } while (number != 0);
  return name;
}

}  // namespace trtforge::wire_format
