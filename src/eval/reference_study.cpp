// The loop the reference studies share (sr_pairs, truth, cross_mag): enlarge each input with
// bicubic and every model, put the result on the reference's grid, measure PSNR and SSIM.
#include <filesystem>

#include "microsr/evaluate.h"
#include "microsr/upscale.h"

namespace fs = std::filesystem;

namespace microsr {

namespace {

// A file name from an item name: letters, digits, '-', '_' and '.' kept, anything else '_'.
std::string file_stem_of(const std::string& name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '_';
  return out;
}

// The input shown at the reference's size: each pixel repeated scale×scale times.
Image nearest_enlarge(const Image& image, int scale) {
  Image out;
  out.width = image.width * scale, out.height = image.height * scale;
  out.channels = image.channels, out.bit_depth = image.bit_depth;
  out.pixels.resize(std::size_t(out.width) * out.height * out.channels);
  for (int c = 0; c < image.channels; ++c)
    for (int y = 0; y < out.height; ++y)
      for (int x = 0; x < out.width; ++x)
        out.plane(c)[std::size_t(y) * out.width + x] = image.plane(c)[std::size_t(y / scale) * image.width + x / scale];
  return out;
}

}  // namespace

bool run_reference_study(StudyResult& study, std::size_t count, const std::function<ReferenceItem(std::size_t)>& load,
                         const ReferenceStudyOptions& o, const std::string& folder) {
  study.metrics = {"psnr", "ssim"};
  study.better = {Better::higher, Better::higher};
  study.convention = convention_name(o.metric.convention);
  study.methods = {"bicubic"};
  for (const LabelledModel& m : o.models) study.methods.push_back(m.label);
  study.compare.clear();
  for (std::size_t k = 1; k < study.methods.size(); ++k) study.compare.emplace_back("bicubic", study.methods[k]);
  for (std::size_t k = 2; k < study.methods.size(); ++k)
    study.compare.emplace_back(study.methods[k - 1], study.methods[k]);

  UpscaleOptions upscale;
  upscale.tiles = o.tiles;
  auto on_reference_grid = [&](const Image& enlarged, const ReferenceItem& item) {
    return o.to_reference_grid ? o.to_reference_grid(enlarged, item) : enlarged;
  };
  for (std::size_t i = 0; i < count; ++i) {
    if (o.stop_requested && o.stop_requested()) return false;
    const ReferenceItem item = load(i);
    std::vector<Image> outputs;  // per method, on the reference's grid
    outputs.push_back(on_reference_grid(bicubic_enlarge(item.input, o.scale), item));
    for (const LabelledModel& m : o.models) {
      require(m.net != nullptr && o.backend != nullptr, "run_reference_study: a model without a network or backend");
      outputs.push_back(on_reference_grid(upscale_image(*m.net, *o.backend, item.input, upscale), item));
    }
    std::string line = "[" + std::to_string(i + 1) + "/" + std::to_string(count) + "] " + item.name + ":";
    for (std::size_t k = 0; k < outputs.size(); ++k) {
      Image& out = outputs[k];
      out.bit_depth = item.reference.bit_depth;  // measured as it would be saved beside the reference
      require(out.width == item.reference.width && out.height == item.reference.height,
              item.name + ": the " + study.methods[k] + " output is " + std::to_string(out.width) + "×" +
                  std::to_string(out.height) + ", the reference " + std::to_string(item.reference.width) + "×" +
                  std::to_string(item.reference.height));
      const double p = psnr(out, item.reference, o.metric), s = ssim(out, item.reference, o.metric);
      study.rows.push_back({item.name, study.methods[k], {p, s}});
      char text[96];
      std::snprintf(text, sizeof text, " %s %.2f dB / %.4f", study.methods[k].c_str(), p, s);
      line += text;
    }
    if (int(i) < o.grids) {
      std::vector<const Image*> columns;
      Image lr_shown = on_reference_grid(nearest_enlarge(item.input, o.scale), item);
      columns.push_back(&lr_shown);
      for (const Image& out : outputs) columns.push_back(&out);
      columns.push_back(&item.reference);
      ComparisonGrid g;
      g.image = item.name;
      g.file = "grids/" + file_stem_of(item.name) + ".png";
      g.columns = {"LR"};
      g.columns.insert(g.columns.end(), study.methods.begin(), study.methods.end());
      g.columns.push_back("reference");
      fs::create_directories(fs::path(folder) / "grids");
      write_png((fs::path(folder) / g.file).string(), comparison_grid(columns));
      study.grids.push_back(g);
    }
    if (o.progress) o.progress(line);
  }
  return true;
}

}  // namespace microsr
