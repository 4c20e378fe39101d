// A restricted unpickler for the data.pkl of torch.save() archives (pickle protocols 2 to 5).
//
// It builds only plain data — None, bools, ints, floats, strings, bytes, lists, tuples, dicts
// (collections.OrderedDict included) — and tensor records made by torch._utils._rebuild_tensor_v2
// (or _rebuild_parameter) from a ('storage', torch.<T>Storage, key, location, numel) persistent id.
// Any other class or function named in the pickle is refused with an Error naming it: nothing is
// ever called, so a malicious file cannot run code.
//
// Values live in an arena owned by PickleDocument and refer to each other by plain pointers, so a
// hostile pickle with cycles or very deep nesting cannot leak or overflow the stack on destruction.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace microsr::io {

// Where a tensor's elements are: storage `key` (the file <root>/data/<key>), viewed with an
// element offset and strides, as torch describes it.
struct TensorRecord {
  std::string storage_key;
  std::string storage_type;    // "FloatStorage", "HalfStorage", "BFloat16Storage", ...
  int64_t storage_offset = 0;  // in elements
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // in elements
};

struct PickleValue {
  enum class Kind { none, boolean, integer, floating, string, bytes, list, tuple, dict, tensor, global, storage_ref };
  Kind kind = Kind::none;
  bool boolean = false;
  int64_t integer = 0;
  double floating = 0.0;
  std::string text;                                            // string / bytes contents; for `global`: "module.name"
  std::vector<PickleValue*> items;                             // list, tuple
  std::vector<std::pair<PickleValue*, PickleValue*>> entries;  // dict, in insertion order
  TensorRecord tensor;  // tensor; for storage_ref: storage_key and storage_type only

  // The dict value under a string key, or nullptr (dicts only).
  const PickleValue* get(const std::string& key) const;
};

const char* kind_name(PickleValue::Kind kind);  // "dict", "tensor", ...

class PickleDocument {
 public:
  // Unpickles `bytes`; `where` (e.g. "model.pth: archive/data.pkl") prefixes every error message.
  PickleDocument(std::span<const uint8_t> bytes, const std::string& where);
  PickleDocument(const PickleDocument&) = delete;
  PickleDocument& operator=(const PickleDocument&) = delete;

  const PickleValue& root() const { return *root_; }

 private:
  friend class Unpickler;
  std::vector<std::unique_ptr<PickleValue>> arena_;
  PickleValue* root_ = nullptr;
};

}  // namespace microsr::io
