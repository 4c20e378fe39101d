// ncnn RRDBNet models (.param text + .bin weights), as converted for Real-ESRGAN-ncnn-vulkan.
//
// .param: a magic line "7767517", then "<layer count> <blob count>", then one line per layer:
//   <type> <name> <n inputs> <n outputs> <input blobs...> <output blobs...> <key=value...>
// For a Convolution: 0=num_output 1=kernel 2=dilation 3=stride 4=pad 5=bias_term
// 6=weight_data_size 9=activation_type (2 = LeakyReLU) -23310=<count>,<activation params>.
// .bin: for each layer with weights, in .param order, the weight blob then the bias blob.
//   weight: a 4-byte tag, then data: tag 0x01306B47 = float16 (padded to 4 bytes),
//           tag 0 = float32; other tags (int8, quantised tables) are not RRDBNet's and refused.
//   bias:   num_output raw float32, no tag.
// The convolutions appear in exactly basicsr's order (conv_first, body.0.rdb1.conv1 … conv_last),
// which is how they are named here; the graph is checked against that expectation.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "io/file_bytes.h"
#include "microsr/rrdbnet.h"
#include "microsr/weights.h"

namespace microsr {
namespace {

struct NcnnConv {
  std::string layer_name;
  int line = 0;
  int num_output = 0, kernel = 0, dilation = 1, stride = 1, pad = 0, bias_term = 0;
  int64_t weight_data_size = 0;
  int activation = 0;
  float activation_param = 0;
};

struct NcnnGraph {
  std::vector<NcnnConv> convs;
  int interp_count = 0;
};

NcnnGraph parse_param(const std::string& path) {
  std::ifstream in(path);
  require(bool(in), "cannot open ncnn param file " + path);
  auto fail = [&](int line, const std::string& what) { throw Error(path + ":" + std::to_string(line) + ": " + what); };
  std::string line;
  int line_no = 1;
  require(bool(std::getline(in, line)), path + ": empty file");
  if (line.find("7767517") == std::string::npos)
    fail(1, "not an ncnn .param file (expected the magic number 7767517, found '" + line.substr(0, 40) + "')");
  int layer_count = 0, blob_count = 0;
  ++line_no;
  if (!std::getline(in, line) || !(std::istringstream(line) >> layer_count >> blob_count) || layer_count <= 0)
    fail(line_no, "expected '<layer count> <blob count>'");

  NcnnGraph g;
  int layers_seen = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::istringstream ls(line);
    std::string type, name;
    int n_in = 0, n_out = 0;
    if (!(ls >> type)) continue;  // blank line
    if (!(ls >> name >> n_in >> n_out) || n_in < 0 || n_out < 0 || n_in > 4096 || n_out > 4096)
      fail(line_no, "malformed layer line");
    ++layers_seen;
    std::string blob;
    for (int i = 0; i < n_in + n_out; ++i)
      if (!(ls >> blob)) fail(line_no, "layer " + name + " lists fewer blobs than it declares");
    // The layer types of Real-ESRGAN's RRDBNet export (activations fused into the convolutions);
    // any other is named, with its line, rather than ignored until the graph fails to add up.
    static const std::set<std::string> kRRDBNetLayerTypes = {"Input",   "Convolution", "Split", "Concat",
                                                             "Eltwise", "BinaryOp",    "Interp"};
    if (!kRRDBNetLayerTypes.count(type))
      fail(line_no, "layer " + name + " has type " + type + ", which this loader does not read: it reads " +
                        "Real-ESRGAN's RRDBNet exports (Input, Convolution with fused LeakyReLU, Split, " +
                        "Concat, Eltwise, BinaryOp, Interp)");
    if (type == "Interp") ++g.interp_count;
    if (type != "Convolution") continue;

    NcnnConv c;
    c.layer_name = name;
    c.line = line_no;
    std::string kv;
    while (ls >> kv) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos) fail(line_no, "expected key=value, found '" + kv + "'");
      int key = 0;
      try {
        key = std::stoi(kv.substr(0, eq));
        const std::string value = kv.substr(eq + 1);
        switch (key) {
          case 0:
            c.num_output = std::stoi(value);
            break;
          case 1:
            c.kernel = std::stoi(value);
            break;
          case 2:
            c.dilation = std::stoi(value);
            break;
          case 3:
            c.stride = std::stoi(value);
            break;
          case 4:
            c.pad = std::stoi(value);
            break;
          case 5:
            c.bias_term = std::stoi(value);
            break;
          case 6:
            c.weight_data_size = std::stoll(value);
            break;
          case 9:
            c.activation = std::stoi(value);
            break;
          case -23310: {  // "<count>,<p0>,..." — LeakyReLU has one parameter, the slope
            const auto comma = value.find(',');
            if (comma != std::string::npos) c.activation_param = std::stof(value.substr(comma + 1));
            break;
          }
          default:
            break;  // keys RRDBNet does not use (int8 scales, dynamic weight, ...)
        }
      } catch (const std::logic_error&) {
        fail(line_no, "cannot read the value of '" + kv + "'");
      }
    }
    // kernel is bounded before kernel² · num_output is formed: 2^31 · (2^31 - 1)² overflows int64_t.
    if (c.num_output <= 0 || c.kernel <= 0 || c.kernel > 1024 || c.weight_data_size <= 0 ||
        c.weight_data_size % (int64_t(c.num_output) * c.kernel * c.kernel) != 0)
      fail(line_no, "convolution " + name + " has inconsistent sizes (num_output " + std::to_string(c.num_output) +
                        ", kernel " + std::to_string(c.kernel) + ", weight_data_size " +
                        std::to_string(c.weight_data_size) + ")");
    g.convs.push_back(c);
  }
  if (layers_seen != layer_count)
    throw Error(path + ": header announces " + std::to_string(layer_count) + " layers, found " +
                std::to_string(layers_seen) + " (truncated file?)");
  return g;
}

// Which convs of basicsr's RRDBNet are followed by LeakyReLU(0.2): dense-block convs 1-4 and
// conv_up1, conv_up2, conv_hr.
bool has_lrelu(const std::string& key) {
  return key.starts_with("conv_up") || key.starts_with("conv_hr") ||
         (key.starts_with("body.") && key.find(".conv5") == std::string::npos);
}

class BinReader {
 public:
  explicit BinReader(const std::string& path) : path_(path), bytes_(io::read_file_bytes(path)) {}
  void read(void* dst, std::size_t n, const std::string& what) {
    require(pos_ + n <= bytes_.size(), path_ + ": file ends at byte " + std::to_string(bytes_.size()) +
                                           " while reading " + what + " (truncated, or not the .bin of this .param)");
    std::memcpy(dst, bytes_.data() + pos_, n);
    pos_ += n;
  }
  std::size_t position() const { return pos_; }
  std::size_t size() const { return bytes_.size(); }

 private:
  std::string path_;
  std::vector<uint8_t> bytes_;
  std::size_t pos_ = 0;
};

Tensor read_weight(BinReader& bin, const Shape& shape, const std::string& what, const std::string& bin_path) {
  constexpr uint32_t kFloat16Tag = 0x01306B47;
  uint32_t tag = 0;
  bin.read(&tag, 4, what + " tag");
  Tensor t = Tensor::empty(shape);
  const int64_t n = t.numel();
  if (tag == kFloat16Tag) {
    std::vector<uint16_t> half(n + (n & 1));  // fp16 data is padded to a 4-byte boundary
    bin.read(half.data(), half.size() * 2, what);
    for (int64_t i = 0; i < n; ++i) t.f32()[i] = half_to_float(half[i]);
  } else if (tag == 0) {
    bin.read(t.f32(), n * 4, what);
  } else {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08X", tag);
    throw Error(bin_path + ": " + what + " has storage tag " + hex +
                " (quantised weights); only float32 and float16 ncnn models are supported");
  }
  return t;
}

}  // namespace

StateDict load_ncnn_rrdbnet(const std::string& param_path, const std::string& bin_path) {
  const NcnnGraph graph = parse_param(param_path);
  const std::size_t n = graph.convs.size();
  // RRDBNet has 1 + 15·num_block + 5 convolutions and two ×2 upsamplings.
  require(n >= 21 && (n - 6) % 15 == 0 && graph.interp_count == 2,
          param_path + ": not an RRDBNet graph (found " + std::to_string(n) + " convolutions and " +
              std::to_string(graph.interp_count) + " Interp layers; expected 6 + 15·blocks and 2)");

  RRDBNetConfig cfg;
  const NcnnConv& first = graph.convs.front();
  cfg.num_feat = first.num_output;
  cfg.num_grow_ch = graph.convs[1].num_output;
  cfg.num_out_ch = graph.convs.back().num_output;
  cfg.num_block = int((n - 6) / 15);
  const int64_t first_in = first.weight_data_size / (int64_t(first.num_output) * 9);
  require(first_in >= 1 && first_in <= 4,
          param_path + ": conv_first has " + std::to_string(first_in) +
              " input channels; only x4 ncnn models (1-4 image channels) are supported");
  cfg.num_in_ch = int(first_in);
  cfg.scale = 4;

  const auto table = cfg.parameter_table();
  BinReader bin(bin_path);
  StateDict sd;
  for (std::size_t i = 0; i < n; ++i) {
    const NcnnConv& c = graph.convs[i];
    const auto& wp = table[2 * i];
    const std::string key = wp.name.substr(0, wp.name.size() - 7);  // drop ".weight"
    const std::string where = param_path + ":" + std::to_string(c.line) + " (" + c.layer_name + " = " + key + ")";
    const int64_t expected = shape_numel(wp.shape);
    require(c.kernel == 3 && c.stride == 1 && c.dilation == 1 && c.pad == 1 && c.bias_term == 1,
            where + ": expected a 3×3, stride 1, pad 1 convolution with bias");
    require(c.num_output == wp.shape[0] && c.weight_data_size == expected,
            where + ": has " + std::to_string(c.num_output) + " outputs and " + std::to_string(c.weight_data_size) +
                " weights, expected " + std::to_string(wp.shape[0]) + " and " + std::to_string(expected));
    const bool lrelu = c.activation == 2 && std::abs(c.activation_param - 0.2f) < 1e-6f;
    require(lrelu == has_lrelu(key) && (c.activation == 0 || c.activation == 2),
            where + (has_lrelu(key) ? ": expected a fused LeakyReLU(0.2)" : ": expected no activation"));
    sd.add(wp.name, read_weight(bin, wp.shape, key + ".weight", bin_path));
    Tensor bias = Tensor::empty({c.num_output});
    bin.read(bias.f32(), c.num_output * 4, key + ".bias");
    sd.add(key + ".bias", std::move(bias));
  }
  require(bin.position() == bin.size(),
          bin_path + ": " + std::to_string(bin.size() - bin.position()) +
              " bytes left after the last layer (the .bin does not belong to this .param)");
  return sd;
}

}  // namespace microsr
