// PyTorch .pth files (torch.save's zip format) and the StateDict lookup helpers.
//
// A torch.save archive is a ZIP whose entries share one root folder (its name varies):
//   <root>/data.pkl      the pickled object; tensors appear as _rebuild_tensor_v2 calls whose
//                        storages are persistent ids ('storage', torch.FloatStorage, key, ...)
//   <root>/data/<key>    the raw little-endian bytes of storage <key>
//   <root>/version       format version ("3"); <root>/byteorder ("little", newer torch only)
#include <bit>
#include <cstring>
#include <map>
#include <set>

#include "io/pickle_reader.h"
#include "io/zip_archive.h"
#include "microsr/weights.h"

namespace microsr {

static_assert(std::endian::native == std::endian::little, "weight loaders assume a little-endian host");

const Tensor* StateDict::find(const std::string& key) const {
  for (const auto& [name, tensor] : entries)
    if (name == key) return &tensor;
  return nullptr;
}

const Tensor& StateDict::at(const std::string& key) const {
  if (const Tensor* t = find(key)) return *t;
  std::string known;
  for (std::size_t i = 0; i < entries.size() && i < 8; ++i) known += (i ? ", " : "") + entries[i].first;
  if (entries.size() > 8) known += ", ...";
  throw Error("state dict has no tensor '" + key + "' (it holds " + std::to_string(entries.size()) +
              " tensors: " + known + ")");
}

namespace {

using io::PickleValue;
using io::TensorRecord;

// ---- reading --------------------------------------------------------------------------------

enum class StoredType { f32, f16, bf16, other };

StoredType stored_type(const std::string& storage_type) {
  if (storage_type == "FloatStorage") return StoredType::f32;
  if (storage_type == "HalfStorage") return StoredType::f16;
  if (storage_type == "BFloat16Storage") return StoredType::bf16;
  return StoredType::other;
}

// Widens `count` elements spaced `stride` elements apart, starting at element `first`, into dst.
void widen(float* dst, const uint8_t* storage, StoredType type, uint64_t first, int64_t stride, int64_t count) {
  if (type == StoredType::f32) {
    if (stride == 1) {
      std::memcpy(dst, storage + 4 * first, 4 * count);
      return;
    }
    for (int64_t i = 0; i < count; ++i) std::memcpy(dst + i, storage + 4 * (first + i * stride), 4);
    return;
  }
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t* p = storage + 2 * (first + i * stride);
    const uint16_t h = static_cast<uint16_t>(p[0] | (p[1] << 8));
    if (type == StoredType::f16) {
      dst[i] = half_to_float(h);
    } else {
      const uint32_t bits = uint32_t{h} << 16;  // bfloat16 is the top half of a float32
      std::memcpy(dst + i, &bits, 4);
    }
  }
}

// Copies the (possibly strided) view `rec` of `storage` into a dense float32 tensor.
Tensor materialize(const TensorRecord& rec, const std::vector<uint8_t>& storage, const std::string& where) {
  const StoredType type = stored_type(rec.storage_type);
  require(type != StoredType::other,
          where + " is stored as " + rec.storage_type + "; only float32, float16 and bfloat16 weights are supported");
  const std::size_t elem = type == StoredType::f32 ? 4 : 2;
  require(storage.size() % elem == 0, where + ": storage of " + std::to_string(storage.size()) +
                                          " bytes is not a whole number of " + std::to_string(elem) + "-byte elements");
  const uint64_t storage_elems = storage.size() / elem;
  constexpr uint64_t kLimit = uint64_t{1} << 62;  // keeps every sum below from overflowing

  // numel, and the last element the view touches: offset + sum((size_i - 1) * stride_i).
  uint64_t numel = 1, last = static_cast<uint64_t>(rec.storage_offset);
  for (std::size_t i = 0; i < rec.shape.size(); ++i) {
    const uint64_t size = rec.shape[i], stride = rec.strides[i];
    require(size < kLimit && (size == 0 || numel <= kLimit / size), where + ": shape too large");
    numel *= size;
    if (size > 0) {
      require(stride == 0 || size - 1 <= (kLimit - last) / stride, where + ": strides too large");
      last += (size - 1) * stride;
    }
  }
  const Shape shape(rec.shape.begin(), rec.shape.end());
  if (numel == 0) return Tensor::empty(shape);
  require(last < storage_elems, where + ": view " + shape_str(shape) + " at offset " +
                                    std::to_string(rec.storage_offset) + " needs element " + std::to_string(last) +
                                    " but its storage holds " + std::to_string(storage_elems));
  // Only an overlapping or broadcast (stride-0, expanded) view can have more elements than its
  // storage; refusing those also bounds the allocation below by the file's size.
  require(numel <= storage_elems, where + ": view " + shape_str(shape) + " has " + std::to_string(numel) +
                                      " elements but its storage only " + std::to_string(storage_elems) +
                                      "; overlapping or expanded views are not supported (save a .contiguous() copy)");
  Tensor out = Tensor::empty(shape);

  // Walk the view row by row (the innermost dimension, strided) with an odometer over the
  // outer dimensions; a contiguous view is a single row.
  const int rank = static_cast<int>(rec.shape.size());
  int64_t row = rank ? rec.shape[rank - 1] : 1, row_stride = rank ? rec.strides[rank - 1] : 1;
  int outer_rank = rank ? rank - 1 : 0;
  int64_t expected_stride = row;  // merge outer dimensions while they are contiguous
  while (outer_rank > 0 && rec.strides[outer_rank - 1] == expected_stride && row_stride == 1) {
    row *= rec.shape[outer_rank - 1];
    expected_stride *= rec.shape[outer_rank - 1];
    --outer_rank;
  }
  float* dst = out.f32();
  std::vector<int64_t> index(outer_rank, 0);
  uint64_t src = rec.storage_offset;
  for (uint64_t done = 0; done < numel; done += row, dst += row) {
    widen(dst, storage.data(), type, src, row_stride, row);
    for (int d = outer_rank - 1; d >= 0; --d) {
      src += rec.strides[d];
      if (++index[d] < rec.shape[d]) break;
      src -= rec.strides[d] * rec.shape[d];
      index[d] = 0;
    }
  }
  return out;
}

// The archive root is the folder holding data.pkl.
std::string find_archive_root(const io::ZipReader& zip) {
  const io::ZipEntry* pickle = nullptr;
  for (const io::ZipEntry& e : zip.entries()) {
    const std::size_t slash = e.name.find('/');
    const bool is_pickle = e.name == "data.pkl" || (slash != std::string::npos && e.name.substr(slash) == "/data.pkl");
    if (!is_pickle) continue;
    if (pickle)
      throw Error(zip.path() + ": two pickles ('" + pickle->name + "' and '" + e.name + "'); not a torch.save archive");
    pickle = &e;
  }
  require(pickle != nullptr, zip.path() + ": no data.pkl entry; this ZIP is not a torch.save archive");
  return pickle->name.substr(0, pickle->name.size() - std::string("data.pkl").size());
}

// The state dict inside what torch.save stored: `group` when named, otherwise the first of the
// known wrappers present, or the object itself.
const PickleValue& select_state_dict(const PickleValue& root, const std::string& path, const std::string& group) {
  require(root.kind == PickleValue::Kind::dict,
          path + ": expected a dict of tensors at the top level, found a " + io::kind_name(root.kind));
  if (!group.empty()) {
    const PickleValue* inner = root.get(group);
    if (inner && inner->kind == PickleValue::Kind::dict) return *inner;
    std::string groups;
    for (const auto& [key, value] : root.entries)
      if (key->kind == PickleValue::Kind::string && value->kind == PickleValue::Kind::dict)
        groups += (groups.empty() ? "" : ", ") + key->text;
    throw Error(
        path + ": no weight group '" + group + "'" +
        (groups.empty() ? std::string(" (the file holds one unnamed state dict)") : " (it has: " + groups + ")"));
  }
  for (const char* wrapper : {"params_ema", "params", "state_dict", "model"}) {
    const PickleValue* inner = root.get(wrapper);
    if (inner && inner->kind == PickleValue::Kind::dict) return *inner;
  }
  return root;
}

// ---- writing --------------------------------------------------------------------------------

// Emits the protocol-2 opcodes torch.save itself produces for an OrderedDict of tensors.
class PickleWriter {
 public:
  std::vector<uint8_t> bytes;

  void op(uint8_t code) { bytes.push_back(code); }
  void le(uint64_t v, int width) {
    for (int i = 0; i < width; ++i) bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void global(const std::string& module, const std::string& name) {
    op('c');
    bytes.insert(bytes.end(), module.begin(), module.end());
    op('\n');
    bytes.insert(bytes.end(), name.begin(), name.end());
    op('\n');
  }
  void string(const std::string& s) {  // BINUNICODE
    op('X');
    le(s.size(), 4);
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      op('K');
      le(v, 1);
    }  // BININT1
    else if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      le(static_cast<uint32_t>(v), 4);
    }  // BININT
    else {
      op(0x8a);
      le(8, 1);
      le(static_cast<uint64_t>(v), 8);
    }  // LONG1, 8 bytes
  }
  void int_tuple(const std::vector<int64_t>& values) {
    op('(');  // MARK
    for (int64_t v : values) integer(v);
    op('t');  // TUPLE
  }
  void empty_ordered_dict() {
    global("collections", "OrderedDict");
    op(')');  // EMPTY_TUPLE
    op('R');  // REDUCE
  }
  // torch._utils._rebuild_tensor_v2(storage, 0, shape, contiguous strides, False, OrderedDict())
  void float_tensor(const std::string& storage_key, const Shape& shape) {
    global("torch._utils", "_rebuild_tensor_v2");
    op('(');
    op('(');
    string("storage");
    global("torch", "FloatStorage");
    string(storage_key);
    string("cpu");
    integer(shape_numel(shape));
    op('t');
    op('Q');  // BINPERSID
    integer(0);
    std::vector<int64_t> strides(shape.size());
    int64_t stride = 1;
    for (std::size_t d = shape.size(); d-- > 0;) {
      strides[d] = stride;
      stride *= shape[d];
    }
    int_tuple(std::vector<int64_t>(shape.begin(), shape.end()));
    int_tuple(strides);
    op(0x89);              // NEWFALSE: requires_grad
    empty_ordered_dict();  // backward hooks
    op('t');
    op('R');
  }
};

}  // namespace

StateDict load_pth(const std::string& path, const std::string& group) {
  io::ZipReader zip(path);
  const std::string root = find_archive_root(zip);
  if (const io::ZipEntry* order = zip.find(root + "byteorder")) {
    const std::vector<uint8_t> text = zip.read(*order);
    require(std::string(text.begin(), text.end()) == "little", path + ": byteorder is '" +
                                                                   std::string(text.begin(), text.end()) +
                                                                   "'; only little-endian archives are supported");
  }
  const io::ZipEntry& pickle_entry = *zip.find(root + "data.pkl");
  const std::vector<uint8_t> pickle = zip.read(pickle_entry);
  const io::PickleDocument doc(pickle, path + ": " + pickle_entry.name);
  const PickleValue& dict = select_state_dict(doc.root(), path, group);

  StateDict sd;
  std::set<std::string> names;
  std::map<std::string, std::vector<uint8_t>> storages;  // by key; views may share one
  for (const auto& [key, value] : dict.entries) {
    require(key->kind == PickleValue::Kind::string,
            path + ": state dict key is a " + std::string(io::kind_name(key->kind)) + ", not a string");
    const std::string where = path + ": tensor '" + key->text + "'";
    require(value->kind == PickleValue::Kind::tensor,
            path + ": entry '" + key->text + "' is a " + io::kind_name(value->kind) +
                ", not a tensor; expected a state dict (top level, or under params_ema, params, "
                "state_dict or model)");
    require(names.insert(key->text).second, path + ": key '" + key->text + "' appears twice");
    const std::string& storage_key = value->tensor.storage_key;
    auto it = storages.find(storage_key);
    if (it == storages.end()) {
      const io::ZipEntry* entry = zip.find(root + "data/" + storage_key);
      require(entry != nullptr,
              where + ": its storage '" + root + "data/" + storage_key + "' is missing from the archive");
      it = storages.emplace(storage_key, zip.read(*entry)).first;
    }
    sd.add(key->text, materialize(value->tensor, it->second, where));
  }
  return sd;
}

void save_pth(const std::string& path, const StateDict& sd, const std::string& wrapper) {
  if (wrapper.empty()) {
    save_pth_groups(path, {{"", &sd}});
  } else {
    save_pth_groups(path, {{wrapper, &sd}});
  }
}

void save_pth_groups(const std::string& path, const std::vector<std::pair<std::string, const StateDict*>>& groups) {
  require(!groups.empty(), path + ": save_pth: nothing to save");
  const bool wrapped = !(groups.size() == 1 && groups[0].first.empty());
  std::set<std::string> wrappers;
  std::vector<const Tensor*> tensors;  // storage i of the archive, in pickle order
  PickleWriter pickle;
  pickle.op(0x80);  // PROTO 2
  pickle.le(2, 1);
  if (wrapped) {
    pickle.op('}');  // EMPTY_DICT
    pickle.op('(');  // MARK
  }
  for (const auto& [wrapper, sd] : groups) {
    require(!wrapped || !wrapper.empty(), path + ": save_pth: a group needs a name when there are several");
    require(wrappers.insert(wrapper).second, path + ": save_pth: group '" + wrapper + "' appears twice");
    if (wrapped) pickle.string(wrapper);
    std::set<std::string> names;
    pickle.empty_ordered_dict();
    pickle.op('(');
    for (const auto& [name, tensor] : sd->entries) {
      require(names.insert(name).second, path + ": save_pth: key '" + name + "' appears twice");
      require(tensor.defined() && tensor.dtype() == DType::f32 && tensor.device().kind == DeviceKind::cpu,
              path + ": save_pth: tensor '" + name + "' must be f32 on the cpu, found " + tensor.describe());
      pickle.string(name);
      pickle.float_tensor(std::to_string(tensors.size()), tensor.shape());
      tensors.push_back(&tensor);
    }
    pickle.op('u');  // SETITEMS into the OrderedDict
  }
  if (wrapped) pickle.op('u');  // SETITEMS into the outer dict
  pickle.op('.');               // STOP

  io::ZipWriter zip(path);
  zip.add("archive/data.pkl", pickle.bytes.data(), pickle.bytes.size());
  zip.add("archive/byteorder", "little", 6);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor dense = tensors[i]->is_contiguous() ? *tensors[i] : tensors[i]->clone();
    zip.add("archive/data/" + std::to_string(i), dense.raw(), dense.bytes());
  }
  zip.add("archive/version", "3\n", 2);
  zip.finish();
}

}  // namespace microsr
