// to_basicsr_names: maps the three RRDBNet namings in circulation onto basicsr's.
//
//   basicsr (Real-ESRGAN)   ESRGAN 2019 (RRDBNet_arch)   ESRGAN 2018 (sequential architecture.py)
//   conv_first              conv_first                   model.0
//   body.N.rdbK.convJ       RRDB_trunk.N.RDBK.convJ      model.1.sub.N.RDBK.convJ.0
//   conv_body               trunk_conv                   model.1.sub.<num_block>
//   conv_up1                upconv1                      model.3
//   conv_up2                upconv2                      model.6
//   conv_hr                 HRconv                       model.8
//   conv_last               conv_last                    model.10
// each followed by .weight or .bias; any number of leading "module." (DataParallel) is dropped.
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "microsr/weights.h"

namespace microsr {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts(1);
  for (char c : s) {
    if (c == sep)
      parts.emplace_back();
    else
      parts.back() += c;
  }
  return parts;
}

// A canonical non-negative decimal ("0", "17"; not "", "01", "+1").
std::optional<int> index_of(const std::string& s) {
  if (s.empty() || s.size() > 6 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// "<prefix>K" with K in [lo, hi] -> K.
std::optional<int> suffix_index(const std::string& s, const std::string& prefix, int lo, int hi) {
  if (s.rfind(prefix, 0) != 0) return std::nullopt;
  std::optional<int> k = index_of(s.substr(prefix.size()));
  if (!k || *k < lo || *k > hi) return std::nullopt;
  return k;
}

// (block, rdb, conv) from "N", "<rdb_prefix>K", "convJ" -> "body.N.rdbK.convJ".
std::optional<std::string> dense_conv(const std::string& n, const std::string& rdb, const std::string& rdb_prefix,
                                      const std::string& conv) {
  const auto block = index_of(n);
  const auto k = suffix_index(rdb, rdb_prefix, 1, 3);
  const auto j = suffix_index(conv, "conv", 1, 5);
  if (!block || !k || !j) return std::nullopt;
  return "body." + n + ".rdb" + std::to_string(*k) + ".conv" + std::to_string(*j);
}

// Maps a module path (no .weight/.bias) to basicsr's; `num_block` resolves model.1.sub.<n>.
std::optional<std::string> basicsr_module(const std::string& module, int num_block) {
  static const std::map<std::string, std::string> kFixed = {// basicsr names map onto themselves
                                                            {"conv_first", "conv_first"},
                                                            {"conv_body", "conv_body"},
                                                            {"conv_up1", "conv_up1"},
                                                            {"conv_up2", "conv_up2"},
                                                            {"conv_hr", "conv_hr"},
                                                            {"conv_last", "conv_last"},
                                                            // ESRGAN 2019
                                                            {"trunk_conv", "conv_body"},
                                                            {"upconv1", "conv_up1"},
                                                            {"upconv2", "conv_up2"},
                                                            {"HRconv", "conv_hr"},
                                                            // ESRGAN 2018 sequential
                                                            {"model.0", "conv_first"},
                                                            {"model.3", "conv_up1"},
                                                            {"model.6", "conv_up2"},
                                                            {"model.8", "conv_hr"},
                                                            {"model.10", "conv_last"}};
  if (auto it = kFixed.find(module); it != kFixed.end()) return it->second;

  const std::vector<std::string> p = split(module, '.');
  if (p.size() == 4 && p[0] == "body") return dense_conv(p[1], p[2], "rdb", p[3]);
  if (p.size() == 4 && p[0] == "RRDB_trunk") return dense_conv(p[1], p[2], "RDB", p[3]);
  if (p.size() >= 4 && p[0] == "model" && p[1] == "1" && p[2] == "sub") {
    if (p.size() == 4 && num_block >= 0 && index_of(p[3]) == num_block) return "conv_body";
    if (p.size() == 7 && p[6] == "0") return dense_conv(p[3], p[4], "RDB", p[5]);
  }
  return std::nullopt;
}

std::string strip_module_prefix(std::string key) {
  while (key.rfind("module.", 0) == 0) key.erase(0, 7);
  return key;
}

}  // namespace

StateDict to_basicsr_names(const StateDict& sd) {
  // The sequential naming puts conv_body right after the blocks: model.1.sub.<num_block>.
  int num_block = -1;
  for (const auto& [key, _] : sd.entries) {
    const std::vector<std::string> p = split(strip_module_prefix(key), '.');
    if (p.size() == 8 && p[0] == "model" && p[1] == "1" && p[2] == "sub")
      if (auto n = index_of(p[3])) num_block = std::max(num_block, *n + 1);
  }

  StateDict out;
  std::map<std::string, std::string> source_of;  // basicsr name -> original key
  std::vector<std::string> unknown;
  for (const auto& [key, tensor] : sd.entries) {
    const std::string name = strip_module_prefix(key);
    const std::size_t dot = name.rfind('.');
    const std::string param = dot == std::string::npos ? "" : name.substr(dot + 1);
    std::optional<std::string> module;
    if (param == "weight" || param == "bias") module = basicsr_module(name.substr(0, dot), num_block);
    if (!module) {
      unknown.push_back(key);
      continue;
    }
    const std::string mapped = *module + "." + param;
    const auto [it, fresh] = source_of.emplace(mapped, key);
    require(fresh, "weights: both '" + it->second + "' and '" + key + "' map to '" + mapped + "'");
    out.add(mapped, tensor);
  }
  if (!unknown.empty()) {
    std::string list;
    for (std::size_t i = 0; i < unknown.size() && i < 10; ++i) list += (i ? ", '" : "'") + unknown[i] + "'";
    if (unknown.size() > 10) list += ", ... (" + std::to_string(unknown.size()) + " in all)";
    throw Error("weights: " + std::to_string(unknown.size()) +
                " key(s) are not RRDBNet parameters in any known naming (basicsr, ESRGAN 2019, "
                "ESRGAN 2018 sequential): " +
                list);
  }
  return out;
}

}  // namespace microsr
