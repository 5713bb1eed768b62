// The protobuf wire format, read and written by hand: what the analyzer's native modules that
// take serialized ONNX messages apart (wire.cpp, split.cpp, infer.cpp) share, with the tables
// they keep names in (`StringTable`, `Numbers`).
//
// A reader never trusts a length: each one is checked against the bytes left, and anything
// unexpected (a group, a truncated field) makes the caller give up, never read past the end.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// A hash of a byte string, eight bytes at a time (names are long: a byte-wise hash such as
// FNV-1a spent more time here than the rest of a graph's read).
inline uint64_t hash_bytes(std::string_view key) {
  const char* p = key.data();
  size_t n = key.size();
  uint64_t hash = 0x9E3779B97F4A7C15ULL ^ n;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    hash = (hash ^ word) * 0xBF58476D1CE4E5B9ULL;
    hash ^= hash >> 31;
  }
  uint64_t tail = 0;
  if (n != 0) std::memcpy(&tail, p, n);  // (an empty view may hold no pointer at all)
  hash = (hash ^ tail) * 0x94D049BB133111EBULL;
  return hash ^ (hash >> 29);
}

// An open-addressing table from byte strings (views that outlive it) to values. The slots
// are 8 bytes each — 32 bits of the hash and the position of the entry (+ 1; 0: empty) —
// and the entries are kept in the order they came: the probes, cache misses on a graph of
// 100,000 nodes, walk a table a fifth the size of one holding the entries (a node-based
// std::unordered_map, one allocation per name, spent most of a large graph's read there).
template <typename Value>
class StringTable {
 public:
  struct Entry {
    uint64_t hash;
    std::string_view key;
    Value value;
  };

  // The value of `key` and false; or, where it has none, `value`, now its, and true.
  std::pair<Value, bool> insert(std::string_view key, Value value) {
    if ((entries_.size() + 1) * 2 > slots_.size()) rehash(slots_.empty() ? 1024 : slots_.size() * 2);
    uint64_t hash = hash_bytes(key);
    size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      uint64_t slot = slots_[i];
      if (slot == 0) {
        entries_.push_back(Entry{hash, key, value});
        slots_[i] = ((hash >> 32) << 32) | entries_.size();
        return {value, true};
      }
      if ((slot >> 32) == (hash >> 32)) {
        const Entry& entry = entries_[(slot & 0xFFFFFFFFu) - 1];
        if (entry.key == key) return {entry.value, false};
      }
    }
  }

  // The entry of `key`, or nullptr.
  const Entry* find(std::string_view key) const {
    if (slots_.empty()) return nullptr;
    uint64_t hash = hash_bytes(key);
    size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      uint64_t slot = slots_[i];
      if (slot == 0) return nullptr;
      if ((slot >> 32) == (hash >> 32)) {
        const Entry& entry = entries_[(slot & 0xFFFFFFFFu) - 1];
        if (entry.key == key) return &entry;
      }
    }
  }

  // Asks the processor to fetch the slot where `key`'s probe starts, ahead of a `find` or
  // `insert` of it: a large graph's table is megabytes, and each probe a cache miss.
  void prefetch(std::string_view key) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash_bytes(key) & (slots_.size() - 1)]);
  }

  // Room for `count` keys without growing.
  void reserve(size_t count) {
    entries_.reserve(count);
    size_t capacity = 1024;
    while (capacity < 2 * count) capacity <<= 1;
    if (capacity > slots_.size()) rehash(capacity);
  }

  const std::vector<Entry>& entries() const { return entries_; }

 private:
  void rehash(size_t capacity) {
    slots_.assign(capacity, 0);
    size_t mask = capacity - 1;
    for (size_t k = 0; k < entries_.size(); ++k) {
      size_t i = entries_[k].hash & mask;
      while (slots_[i] != 0) i = (i + 1) & mask;
      slots_[i] = ((entries_[k].hash >> 32) << 32) | (k + 1);
    }
  }

  std::vector<uint64_t> slots_;
  std::vector<Entry> entries_;
};

// Byte strings numbered (`StringTable`).
class Numbers {
 public:
  // The number of `key`, `next` if it is new (then remembered as `key`'s).
  size_t number(std::string_view key, size_t next) { return table_.insert(key, next).first; }

  bool empty() const { return table_.entries().empty(); }

  // The number of `key`, or `missing` when it has none.
  size_t find(std::string_view key, size_t missing) const {
    const auto* entry = table_.find(key);
    return entry == nullptr ? missing : entry->value;
  }

  // Room for `count` keys without growing.
  void reserve(size_t count) { table_.reserve(count); }

 private:
  StringTable<size_t> table_;
};

}  // namespace trtforge::wire_format
