#include "io/pickle_reader.h"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "microsr/error.h"

namespace microsr::io {

using Kind = PickleValue::Kind;

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::none:
      return "None";
    case Kind::boolean:
      return "bool";
    case Kind::integer:
      return "int";
    case Kind::floating:
      return "float";
    case Kind::string:
      return "str";
    case Kind::bytes:
      return "bytes";
    case Kind::list:
      return "list";
    case Kind::tuple:
      return "tuple";
    case Kind::dict:
      return "dict";
    case Kind::tensor:
      return "tensor";
    case Kind::global:
      return "class";
    case Kind::storage_ref:
      return "storage";
  }
  return "?";
}

const PickleValue* PickleValue::get(const std::string& key) const {
  const PickleValue* found = nullptr;  // the last one wins, as in Python
  for (const auto& [k, v] : entries)
    if (k->kind == Kind::string && k->text == key) found = v;
  return found;
}

namespace {

// The only callables a torch state dict needs; everything else is refused by name.
constexpr const char* kOrderedDict = "collections.OrderedDict";
constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";
constexpr const char* kStorageTypes[] = {"FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage",
                                         "LongStorage",  "IntStorage",  "ShortStorage",    "CharStorage",
                                         "ByteStorage",  "BoolStorage"};

bool is_storage_type(const std::string& qualified) {
  for (const char* name : kStorageTypes)
    if (qualified == std::string("torch.") + name) return true;
  return false;
}

}  // namespace

class Unpickler {
 public:
  Unpickler(PickleDocument& doc, std::span<const uint8_t> bytes, const std::string& where)
      : doc_(doc), in_(bytes), where_(where) {}

  PickleValue* run();

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(where_ + ": " + what + " (pickle byte " + std::to_string(op_pos_) + ")");
  }
  // ---- input ----
  void need(uint64_t n) const {
    if (n > in_.size() - pos_)
      fail("malformed pickle: truncated (needs " + std::to_string(n) + " more bytes, " +
           std::to_string(in_.size() - pos_) + " left)");
  }
  uint64_t le(int width) {
    need(width);
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = (v << 8) | in_[pos_ + i];
    pos_ += width;
    return v;
  }
  std::string take(uint64_t n) {
    need(n);
    std::string s(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  std::string line() {  // GLOBAL's newline-terminated arguments
    std::string s;
    for (;;) {
      need(1);
      const char c = static_cast<char>(in_[pos_++]);
      if (c == '\n') return s;
      if (s.size() > 256) fail("malformed pickle: GLOBAL name too long");
      s.push_back(c);
    }
  }
  // ---- values and stacks ----
  PickleValue* make(Kind kind) {
    doc_.arena_.push_back(std::make_unique<PickleValue>());
    doc_.arena_.back()->kind = kind;
    return doc_.arena_.back().get();
  }
  PickleValue* make_int(int64_t v) {
    PickleValue* p = make(Kind::integer);
    p->integer = v;
    return p;
  }
  PickleValue* make_text(Kind k, std::string s) {
    PickleValue* p = make(k);
    p->text = std::move(s);
    return p;
  }
  void push(PickleValue* v) { stack_.push_back(v); }
  PickleValue* pop() {
    if (stack_.size() <= floor()) fail("malformed pickle: stack underflow");
    PickleValue* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PickleValue* top() {
    if (stack_.size() <= floor()) fail("malformed pickle: stack underflow");
    return stack_.back();
  }
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<PickleValue*> pop_mark() {
    if (marks_.empty()) fail("malformed pickle: no MARK on the stack");
    std::vector<PickleValue*> items(stack_.begin() + marks_.back(), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  PickleValue* container(Kind kind, const char* op) {
    PickleValue* c = top();
    if (c->kind != kind)
      fail(std::string("malformed pickle: ") + op + " expects a " + kind_name(kind) + ", found a " +
           kind_name(c->kind));
    return c;
  }
  void set_items(PickleValue* dict, const std::vector<PickleValue*>& kv) {
    if (kv.size() % 2) fail("malformed pickle: SETITEMS with an odd number of items");
    for (std::size_t i = 0; i < kv.size(); i += 2) dict->entries.emplace_back(kv[i], kv[i + 1]);
  }
  PickleValue* memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail("malformed pickle: memo entry " + std::to_string(index) + " unset");
    return it->second;
  }
  // ---- the restricted parts ----
  PickleValue* global(const std::string& module, const std::string& name);
  PickleValue* reduce(PickleValue* callable, PickleValue* args);
  PickleValue* persistent_load(PickleValue* pid);
  PickleValue* rebuild_tensor(const std::vector<PickleValue*>& args);
  int64_t as_int(const PickleValue* v, const char* what) {
    if (v->kind != Kind::integer) fail(std::string(what) + " must be an int, found " + kind_name(v->kind));
    return v->integer;
  }

  PickleDocument& doc_;
  std::span<const uint8_t> in_;
  std::string where_;
  std::size_t pos_ = 0, op_pos_ = 0;
  std::vector<PickleValue*> stack_;
  std::vector<std::size_t> marks_;  // stack sizes at each MARK
  std::unordered_map<uint64_t, PickleValue*> memo_;
};

PickleValue* Unpickler::global(const std::string& module, const std::string& name) {
  const std::string qualified = module + "." + name;
  if (qualified != kOrderedDict && qualified != kRebuildTensor && qualified != kRebuildParameter &&
      !is_storage_type(qualified))
    fail("refusing to unpickle '" + qualified +
         "' — only tensors and containers are allowed (a .pth holding other objects may run "
         "code when loaded; export a plain state_dict instead)");
  return make_text(Kind::global, qualified);
}

PickleValue* Unpickler::reduce(PickleValue* callable, PickleValue* args) {
  if (callable->kind != Kind::global) fail(std::string("cannot call a ") + kind_name(callable->kind));
  if (args->kind != Kind::tuple) fail("malformed pickle: REDUCE arguments are not a tuple");
  const std::string& f = callable->text;
  if (f == kOrderedDict) {
    if (!args->items.empty()) fail("OrderedDict(...) with arguments is not supported");
    return make(Kind::dict);
  }
  if (f == kRebuildTensor) return rebuild_tensor(args->items);
  if (f == kRebuildParameter) {  // (data, requires_grad, backward_hooks) -> data
    if (args->items.size() != 3 || args->items[0]->kind != Kind::tensor)
      fail("_rebuild_parameter expects (tensor, requires_grad, hooks)");
    return args->items[0];
  }
  fail("refusing to call '" + f + "'");
}

// ('storage', torch.<T>Storage, key, location, numel) -> a reference to <root>/data/<key>.
PickleValue* Unpickler::persistent_load(PickleValue* pid) {
  const auto& t = pid->items;
  if (pid->kind != Kind::tuple || t.size() != 5 || t[0]->kind != Kind::string || t[0]->text != "storage" ||
      t[1]->kind != Kind::global || !is_storage_type(t[1]->text) || t[2]->kind != Kind::string ||
      t[3]->kind != Kind::string || t[4]->kind != Kind::integer)
    fail("unsupported persistent id: expected ('storage', torch.<T>Storage, key, location, numel)");
  const std::string& key = t[2]->text;
  bool safe = !key.empty() && key.size() < 64;
  for (char c : key) safe = safe && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!safe) fail("storage key '" + key + "' is not a plain name");
  PickleValue* ref = make(Kind::storage_ref);
  ref->tensor.storage_key = key;
  ref->tensor.storage_type = t[1]->text.substr(6);  // drop "torch."
  return ref;
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata])
PickleValue* Unpickler::rebuild_tensor(const std::vector<PickleValue*>& a) {
  if ((a.size() != 6 && a.size() != 7) || a[0]->kind != Kind::storage_ref || a[2]->kind != Kind::tuple ||
      a[3]->kind != Kind::tuple)
    fail("_rebuild_tensor_v2 expects (storage, offset, size, stride, requires_grad, hooks)");
  PickleValue* t = make(Kind::tensor);
  t->tensor = a[0]->tensor;
  t->tensor.storage_offset = as_int(a[1], "tensor storage offset");
  for (const PickleValue* d : a[2]->items) t->tensor.shape.push_back(as_int(d, "tensor size"));
  for (const PickleValue* s : a[3]->items) t->tensor.strides.push_back(as_int(s, "tensor stride"));
  if (t->tensor.shape.size() != t->tensor.strides.size())
    fail("tensor has " + std::to_string(t->tensor.shape.size()) + " sizes but " +
         std::to_string(t->tensor.strides.size()) + " strides");
  if (t->tensor.storage_offset < 0) fail("negative tensor storage offset");
  for (std::size_t i = 0; i < t->tensor.shape.size(); ++i)
    if (t->tensor.shape[i] < 0 || t->tensor.strides[i] < 0) fail("negative tensor size or stride");
  return t;
}

PickleValue* Unpickler::run() {
  for (;;) {
    op_pos_ = pos_;
    need(1);
    const uint8_t op = in_[pos_++];
    switch (op) {
      case 0x80: {  // PROTO
        const uint64_t v = le(1);
        if (v < 2 || v > 5) fail("unsupported pickle protocol " + std::to_string(v));
        break;
      }
      case 0x95:
        need(le(8));
        break;     // FRAME: a length prefix for what follows
      case '.': {  // STOP
        PickleValue* result = pop();
        if (!marks_.empty()) fail("malformed pickle: unclosed MARK at STOP");
        return result;
      }
      case '(':
        marks_.push_back(stack_.size());
        break;  // MARK
      case '0':
        pop();
        break;  // POP
      case '1':
        pop_mark();
        break;  // POP_MARK
      case '2':
        push(top());
        break;  // DUP
      case 'N':
        push(make(Kind::none));
        break;  // NONE
      case 0x88:
      case 0x89: {  // NEWTRUE, NEWFALSE
        PickleValue* b = make(Kind::boolean);
        b->boolean = op == 0x88;
        push(b);
        break;
      }
      case 'J':
        push(make_int(static_cast<int32_t>(le(4))));
        break;  // BININT
      case 'K':
        push(make_int(static_cast<int64_t>(le(1))));
        break;  // BININT1
      case 'M':
        push(make_int(static_cast<int64_t>(le(2))));
        break;      // BININT2
      case 0x8a: {  // LONG1: n-byte little-endian two's complement
        const uint64_t n = le(1);
        if (n > 8) fail("integer wider than 64 bits");
        uint64_t v = n ? le(static_cast<int>(n)) : 0;
        if (n && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
        push(make_int(static_cast<int64_t>(v)));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        need(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | in_[pos_ + i];
        pos_ += 8;
        PickleValue* f = make(Kind::floating);
        std::memcpy(&f->floating, &bits, 8);
        push(f);
        break;
      }
      case 'X':
        push(make_text(Kind::string, take(le(4))));
        break;  // BINUNICODE
      case 0x8c:
        push(make_text(Kind::string, take(le(1))));
        break;  // SHORT_BINUNICODE
      case 0x8d:
        push(make_text(Kind::string, take(le(8))));
        break;  // BINUNICODE8
      case 'B':
        push(make_text(Kind::bytes, take(le(4))));
        break;  // BINBYTES
      case 'C':
        push(make_text(Kind::bytes, take(le(1))));
        break;  // SHORT_BINBYTES
      case 0x8e:
        push(make_text(Kind::bytes, take(le(8))));
        break;  // BINBYTES8
      case '}':
        push(make(Kind::dict));
        break;  // EMPTY_DICT
      case ']':
        push(make(Kind::list));
        break;  // EMPTY_LIST
      case ')':
        push(make(Kind::tuple));
        break;     // EMPTY_TUPLE
      case 'd': {  // DICT
        std::vector<PickleValue*> kv = pop_mark();
        PickleValue* d = make(Kind::dict);
        set_items(d, kv);
        push(d);
        break;
      }
      case 'l':
      case 't': {  // LIST, TUPLE
        PickleValue* c = make(op == 'l' ? Kind::list : Kind::tuple);
        c->items = pop_mark();
        push(c);
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1, TUPLE2, TUPLE3
        PickleValue* c = make(Kind::tuple);
        c->items.resize(op - 0x84);
        for (std::size_t i = c->items.size(); i-- > 0;) c->items[i] = pop();
        push(c);
        break;
      }
      case 'a': {  // APPEND
        PickleValue* v = pop();
        container(Kind::list, "APPEND")->items.push_back(v);
        break;
      }
      case 'e': {  // APPENDS
        std::vector<PickleValue*> vs = pop_mark();
        PickleValue* list = container(Kind::list, "APPENDS");
        list->items.insert(list->items.end(), vs.begin(), vs.end());
        break;
      }
      case 's': {  // SETITEM
        PickleValue* value = pop();
        PickleValue* key = pop();
        container(Kind::dict, "SETITEM")->entries.emplace_back(key, value);
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<PickleValue*> kv = pop_mark();
        set_items(container(Kind::dict, "SETITEMS"), kv);
        break;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        std::string module = line();
        push(global(module, line()));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        PickleValue* name = pop();
        PickleValue* module = pop();
        if (module->kind != Kind::string || name->kind != Kind::string)
          fail("malformed pickle: STACK_GLOBAL needs two strings");
        push(global(module->text, name->text));
        break;
      }
      case 'R': {  // REDUCE
        PickleValue* args = pop();
        PickleValue* callable = pop();
        push(reduce(callable, args));
        break;
      }
      case 'b': {  // BUILD: state for the object below; dicts carry only _metadata, ignored
        pop();
        container(Kind::dict, "BUILD");
        break;
      }
      case 'Q':
        push(persistent_load(pop()));
        break;  // BINPERSID
      case 'q':
        memo_[le(1)] = top();
        break;  // BINPUT
      case 'r':
        memo_[le(4)] = top();
        break;  // LONG_BINPUT
      case 0x94: {
        const uint64_t i = memo_.size();
        memo_[i] = top();
        break;
      }  // MEMOIZE
      case 'h':
        push(memo_get(le(1)));
        break;  // BINGET
      case 'j':
        push(memo_get(le(4)));
        break;  // LONG_BINGET
      default: {
        char shown[48];
        std::snprintf(shown, sizeof shown, "unsupported pickle opcode 0x%02x", op);
        fail(shown);
      }
    }
  }
}

PickleDocument::PickleDocument(std::span<const uint8_t> bytes, const std::string& where) {
  root_ = Unpickler(*this, bytes, where).run();
}

}  // namespace microsr::io
