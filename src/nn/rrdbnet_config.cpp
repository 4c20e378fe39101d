// RRDBNet's parameter table and the architecture read back off a set of weights.
#include <sstream>

#include "microsr/rrdbnet.h"

namespace microsr {

int RRDBNetConfig::first_conv_in_ch() const {
  // Scale 2 and 1 models fold space into channels first (pixel_unshuffle by 2 or 4), so that the
  // body always works at 1/4 of the output resolution and the same ×4 tail serves all three.
  return scale == 4 ? num_in_ch : scale == 2 ? num_in_ch * 4 : num_in_ch * 16;
}

std::vector<RRDBNetConfig::Param> RRDBNetConfig::parameter_table() const {
  std::vector<Param> table;
  auto conv = [&](const std::string& name, int64_t cin, int64_t cout) {
    table.push_back({name + ".weight", {cout, cin, 3, 3}});
    table.push_back({name + ".bias", {cout}});
  };
  conv("conv_first", first_conv_in_ch(), num_feat);
  for (int b = 0; b < num_block; ++b)
    for (int r = 1; r <= 3; ++r) {
      const std::string rdb = "body." + std::to_string(b) + ".rdb" + std::to_string(r) + ".conv";
      // Dense connectivity: conv j sees the block input plus the j-1 outputs before it.
      for (int j = 1; j <= 4; ++j) conv(rdb + std::to_string(j), num_feat + (j - 1) * num_grow_ch, num_grow_ch);
      conv(rdb + "5", num_feat + 4 * num_grow_ch, num_feat);
    }
  conv("conv_body", num_feat, num_feat);
  conv("conv_up1", num_feat, num_feat);
  conv("conv_up2", num_feat, num_feat);
  conv("conv_hr", num_feat, num_feat);
  conv("conv_last", num_feat, num_out_ch);
  return table;
}

int64_t RRDBNetConfig::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameter_table()) n += shape_numel(p.shape);
  return n;
}

double RRDBNetConfig::macs(int h, int w) const {
  // Every conv is 3×3, stride 1: MACs = 9·cin·cout·pixels. Body convs run at the body resolution
  // (h·w·scale²/16 pixels), conv_up1 at 2× that side, conv_up2/conv_hr/conv_last at 4×.
  const double body_px = double(h) * w * scale * scale / 16.0;
  double macs = 0;
  for (const auto& p : parameter_table()) {
    if (p.shape.size() != 4) continue;
    const double per_px = 9.0 * p.shape[0] * p.shape[1];
    const std::string& n = p.name;
    const double px = n.starts_with("conv_up1") ? body_px * 4
                      : (n.starts_with("conv_up2") || n.starts_with("conv_hr") || n.starts_with("conv_last"))
                          ? body_px * 16
                          : body_px;
    macs += per_px * px;
  }
  return macs;
}

std::string RRDBNetConfig::describe() const {
  std::ostringstream os;
  os << "RRDBNet x" << scale << ": in " << num_in_ch << " ch, out " << num_out_ch << " ch, " << num_block
     << " RRDB blocks, num_feat " << num_feat << ", num_grow_ch " << num_grow_ch << ", " << parameter_count()
     << " parameters";
  return os.str();
}

RRDBNetConfig infer_rrdbnet_config(const StateDict& sd) {
  RRDBNetConfig c;
  const Tensor& first = sd.at("conv_first.weight");
  const Tensor& last = sd.at("conv_last.weight");
  const Tensor& grow = sd.at("body.0.rdb1.conv1.weight");
  require(first.rank() == 4 && last.rank() == 4 && grow.rank() == 4,
          "RRDBNet weights: conv weights must be 4-D [Cout, Cin, 3, 3]");
  c.num_feat = int(first.dim(0));
  c.num_out_ch = int(last.dim(0));
  c.num_grow_ch = int(grow.dim(0));
  c.num_block = 0;
  while (sd.find("body." + std::to_string(c.num_block) + ".rdb1.conv1.weight")) ++c.num_block;

  // conv_first sees num_in_ch·(4/scale)² channels. Real models have 1, 3 or 4 image channels,
  // so the smallest reading that divides evenly decides: 3 → x4, 12 → x2, 48 → x1.
  const int64_t cin = first.dim(1);
  if (cin <= 4) {
    c.scale = 4, c.num_in_ch = int(cin);
  } else if (cin % 16 == 0 && cin / 16 <= 4 && cin != 16) {
    c.scale = 1, c.num_in_ch = int(cin / 16);
  } else if (cin % 4 == 0 && cin / 4 <= 4) {
    c.scale = 2, c.num_in_ch = int(cin / 4);
  } else {
    throw Error("RRDBNet weights: conv_first has " + std::to_string(cin) +
                " input channels; expected 1-4 (x4), 4-16 (x2, ×4) or 16-64 (x1, ×16)");
  }

  // Every tensor must be exactly where the table says, and nothing else may be there.
  const auto table = c.parameter_table();
  require(sd.size() == table.size(), "RRDBNet weights: found " + std::to_string(sd.size()) +
                                         " tensors, the architecture " + c.describe() + " has " +
                                         std::to_string(table.size()));
  for (const auto& p : table) {
    const Tensor* t = sd.find(p.name);
    require(t, "RRDBNet weights: missing " + p.name + " (architecture " + c.describe() + ")");
    require(t->shape() == p.shape,
            "RRDBNet weights: " + p.name + " has shape " + shape_str(t->shape()) + ", expected " + shape_str(p.shape));
  }
  return c;
}

}  // namespace microsr
