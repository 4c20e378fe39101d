// The seed's workflow question: is a disk sharper when the whole image is upscaled and then
// cropped (Method 1), or when the disk is cropped first and the crop upscaled (Method 2)?
// Method 2 sees no context beyond the crop's border, so the network's receptive field is cut
// there; "method2_margin" gives it `context` LR pixels around the crop, then cuts them off.
#include <algorithm>
#include <filesystem>

#include "microsr/evaluate.h"
#include "microsr/upscale.h"

namespace fs = std::filesystem;

namespace microsr {

namespace {

Image crop(const Image& image, const PixelBox& b) {
  Image out;
  out.width = b.w, out.height = b.h, out.channels = image.channels, out.bit_depth = image.bit_depth;
  out.pixels.resize(std::size_t(b.w) * b.h * image.channels);
  for (int c = 0; c < image.channels; ++c)
    for (int y = 0; y < b.h; ++y)
      std::copy_n(image.plane(c) + std::size_t(b.y + y) * image.width + b.x, b.w, out.plane(c) + std::size_t(y) * b.w);
  return out;
}

PixelBox scaled(const PixelBox& b, int s) { return {b.x * s, b.y * s, b.w * s, b.h * s}; }

}  // namespace

StudyResult workflow_study_header() {
  StudyResult s;
  s.study = "workflow";
  s.title = "Whole image then crop (Method 1) against crop then upscale (Method 2)";
  s.metrics = {"sharpness", "edge_strength"};
  s.better = {Better::higher, Better::higher};
  s.methods = {"method1", "method2", "method2_margin"};
  s.compare = {{"method2", "method1"}, {"method2_margin", "method1"}, {"method2", "method2_margin"}};
  return s;
}

void run_workflow_image(StudyResult& study, const std::string& name, const Image& lr,
                        const std::vector<std::pair<int, PixelBox>>& boxes, const WorkflowOptions& o,
                        const std::string& folder) {
  require(o.net != nullptr && o.backend != nullptr, "run_workflow_image: no network or backend");
  UpscaleOptions upscale;
  upscale.tiles = o.tiles;
  const Image whole = upscale_image(*o.net, *o.backend, lr, upscale);  // Method 1's one pass
  for (const auto& [id, box] : boxes) {
    if (o.stop_requested && o.stop_requested()) return;
    require(
        box.x >= 0 && box.y >= 0 && box.w > 0 && box.h > 0 && box.x + box.w <= lr.width && box.y + box.h <= lr.height,
        name + ": disk " + std::to_string(id) + "'s box lies outside the image");
    const Image method1 = crop(whole, scaled(box, o.scale));
    const Image method2 = upscale_image(*o.net, *o.backend, crop(lr, box), upscale);
    // With context: the box grown by `context` pixels (within the image), upscaled, cut back.
    const int x0 = std::max(0, box.x - o.context), y0 = std::max(0, box.y - o.context);
    const int x1 = std::min(lr.width, box.x + box.w + o.context), y1 = std::min(lr.height, box.y + box.h + o.context);
    const Image context_sr = upscale_image(*o.net, *o.backend, crop(lr, {x0, y0, x1 - x0, y1 - y0}), upscale);
    const Image method2_margin = crop(context_sr, scaled({box.x - x0, box.y - y0, box.w, box.h}, o.scale));

    const std::string item = name + "#" + std::to_string(id);
    const Image* outputs[] = {&method1, &method2, &method2_margin};
    for (int k = 0; k < 3; ++k)
      study.rows.push_back({item, study.methods[k], {sharpness(*outputs[k]), edge_strength(*outputs[k])}});
    if (int(study.grids.size()) < o.grids) {
      ComparisonGrid g{item,
                       "grids/" + fs::path(name).stem().string() + "_" + std::to_string(id) + ".png",
                       {"method2", "method2_margin", "method1"}};
      fs::create_directories(fs::path(folder) / "grids");
      write_png((fs::path(folder) / g.file).string(), comparison_grid({&method2, &method2_margin, &method1}));
      study.grids.push_back(g);
    }
  }
  if (o.progress) o.progress(name + ": " + std::to_string(boxes.size()) + " disk(s)");
}

}  // namespace microsr
