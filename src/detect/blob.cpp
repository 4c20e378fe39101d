// The mechanics of stage 2 on one blob (src/detect/blob.h): fill, open, distance transform peaks,
// watershed, outlines of the parts. split.cpp decides what to do with them.
#include "detect/blob.h"

#include <algorithm>
#include <cmath>

namespace microsr {

Blob fill_blob(const Plane8& mask, const Contour& contour, int pad) {
  const Box b = bounding_box(contour);
  Blob blob;
  blob.x0 = b.x - pad, blob.y0 = b.y - pad;
  const int w = b.width + 2 * pad, h = b.height + 2 * pad;
  enum : uint8_t { kUnseen, kInBlob, kOutside };
  std::vector<uint8_t> state(std::size_t(w) * h, kUnseen);
  std::vector<int> stack;
  auto visit = [&](int i, int j, uint8_t mark) {
    state[std::size_t(j) * w + i] = mark;
    stack.push_back(j * w + i);
  };
  // The component: foreground reached over 8-neighbours from the outline's first pixel. Pixels of
  // the box interior are inside the image (the box is the contour's); the frame is background.
  auto foreground = [&](int i, int j) {
    return i >= pad && j >= pad && i < w - pad && j < h - pad && mask.at(blob.x0 + i, blob.y0 + j) != 0;
  };
  visit(contour[0].x - blob.x0, contour[0].y - blob.y0, kInBlob);
  while (!stack.empty()) {
    const int p = stack.back();
    stack.pop_back();
    const int i = p % w, j = p / w;
    for (int dj = -1; dj <= 1; ++dj)
      for (int di = -1; di <= 1; ++di)
        if (state[std::size_t(j + dj) * w + i + di] == kUnseen && foreground(i + di, j + dj))
          visit(i + di, j + dj, kInBlob);
  }
  // The outside: everything else reached over 4-neighbours from the frame (the background of an
  // 8-connected foreground is 4-connected). What is neither is a hole.
  for (int i = 0; i < w; ++i) visit(i, 0, kOutside), visit(i, h - 1, kOutside);
  for (int j = 1; j < h - 1; ++j) visit(0, j, kOutside), visit(w - 1, j, kOutside);
  while (!stack.empty()) {
    const int p = stack.back();
    stack.pop_back();
    const int i = p % w, j = p / w;
    const int next[4][2] = {{i + 1, j}, {i - 1, j}, {i, j + 1}, {i, j - 1}};
    for (const auto& [ni, nj] : next)
      if (ni >= 0 && nj >= 0 && ni < w && nj < h && state[std::size_t(nj) * w + ni] == kUnseen) visit(ni, nj, kOutside);
  }
  blob.filled = Plane8(w, h);
  for (std::size_t p = 0; p < state.size(); ++p) blob.filled.pixels[p] = state[p] == kOutside ? 0 : 255;
  return blob;
}

// Exact, by two distance transforms: a disk centred on a pixel fits where the distance to the
// background exceeds rho; the opening is what lies within rho of such a centre.
Plane8 open_by_disk(const Plane8& blob, const std::vector<int32_t>& d2, double rho) {
  const double rho2 = rho * rho;
  Plane8 not_centre(blob.width, blob.height);
  for (std::size_t p = 0; p < d2.size(); ++p) not_centre.pixels[p] = d2[p] > rho2 ? 0 : 255;
  const std::vector<int32_t> to_centre = squared_distance_transform(not_centre);
  Plane8 opened(blob.width, blob.height);
  for (std::size_t p = 0; p < d2.size(); ++p) opened.pixels[p] = blob.pixels[p] && to_centre[p] <= rho2 ? 255 : 0;
  return opened;
}

namespace {

// Offsets of the 8 neighbours in a box of width w.
std::vector<int> neighbour_offsets(int w) { return {-w - 1, -w, -w + 1, -1, 1, w - 1, w, w + 1}; }

}  // namespace

// A counting sort over the squared distances.
Levels sort_by_distance(const std::vector<int32_t>& d2) {
  const int32_t top = *std::max_element(d2.begin(), d2.end());
  std::vector<int> start(std::size_t(top) + 2, 0);  // start[v]: where distance v begins in the order
  for (const int32_t v : d2)
    if (v > 0) ++start[top - v + 1];  // descending: distance v goes to slot top − v
  Levels levels;
  std::vector<int> rank_of(std::size_t(top) + 1, 0);
  for (int32_t slot = 0; slot <= top; ++slot) {
    if (start[slot + 1] > 0) rank_of[top - slot] = levels.count++;
    start[slot + 1] += start[slot];
  }
  levels.order.resize(start[top + 1]);
  levels.level.assign(d2.size(), 0);
  for (std::size_t p = 0; p < d2.size(); ++p)
    if (d2[p] > 0) {
      levels.order[start[top - d2[p]]++] = int(p);
      levels.level[p] = rank_of[d2[p]];
    }
  return levels;
}

std::vector<int> disk_peaks(const std::vector<int32_t>& d2, const Levels& levels, int w, double saddle,
                            double min_radius) {
  std::vector<int> parent(d2.size(), -1);  // -1: not entered yet
  std::vector<int> top(d2.size());         // of a root: its region's peak
  auto find = [&](int p) {
    while (parent[p] != p) p = parent[p] = parent[parent[p]];  // path halving
    return p;
  };
  auto higher = [&](int a, int b) { return d2[a] != d2[b] ? d2[a] > d2[b] : a < b; };  // peak a outranks b
  auto stands_out = [&](int peak, int32_t level) {
    const double height = std::sqrt(double(d2[peak]));
    return height >= min_radius && std::sqrt(double(level)) <= saddle * height;
  };
  const std::vector<int> around = neighbour_offsets(w);
  std::vector<int> peaks;
  for (const int p : levels.order) {
    int roots[8], n = 0;
    for (const int offset : around) {  // pixels with d2 > 0 are off the frame: neighbours exist
      const int q = p + offset;
      if (parent[q] < 0) continue;
      const int r = find(q);
      if (std::find(roots, roots + n, r) == roots + n) roots[n++] = r;
    }
    if (n == 0) {  // a new maximum
      parent[p] = p, top[p] = p;
      continue;
    }
    int elder = roots[0];
    for (int k = 1; k < n; ++k)
      if (higher(top[roots[k]], top[elder])) elder = roots[k];
    for (int k = 0; k < n; ++k) {
      if (roots[k] == elder) continue;
      if (stands_out(top[roots[k]], d2[p])) peaks.push_back(top[roots[k]]);
      parent[roots[k]] = elder;
    }
    parent[p] = elder;
  }
  for (const int p : levels.order)  // the regions left at the end (the opening may have parted the blob)
    if (parent[p] == p && std::sqrt(double(d2[top[p]])) >= min_radius) peaks.push_back(top[p]);
  std::sort(peaks.begin(), peaks.end(), higher);
  return peaks;
}

// A hierarchical queue, one first-in-first-out list per level: the flood takes the highest level
// first, and a pixel met at a level lower than its own (the slope of a peak too small to count) waits
// at the current one.
std::vector<int> flood_from_peaks(const std::vector<int32_t>& d2, const Levels& levels, int w,
                                  const std::vector<int>& peaks) {
  std::vector<int> labels(d2.size(), 0);
  // The lists, linked through `next` (a pixel joins a list once, when it is labelled).
  std::vector<int> head(levels.count, -1), tail(levels.count, -1), next(d2.size(), -1);
  auto push = [&](int level, int p) {
    (tail[level] < 0 ? head[level] : next[tail[level]]) = p;
    tail[level] = p;
  };
  for (std::size_t k = 0; k < peaks.size(); ++k) {
    labels[peaks[k]] = int(k) + 1;
    push(levels.level[peaks[k]], peaks[k]);
  }
  const std::vector<int> around = neighbour_offsets(w);
  for (int current = 0; current < levels.count; ++current)
    for (int p = head[current]; p >= 0; p = next[p])  // the list may grow while we walk it
      for (const int offset : around) {
        const int q = p + offset;
        if (d2[q] == 0 || labels[q] != 0) continue;
        labels[q] = labels[p];
        push(std::max(current, levels.level[q]), q);
      }
  return labels;
}

namespace {

// The outline of the pixels labelled `label` (the largest, should there be several), in image
// coordinates. box: those pixels' extent in the blob box.
Contour part_outline(const std::vector<int>& labels, int w, int label, const Box& box, int x0, int y0) {
  Plane8 part(box.width + 2, box.height + 2);  // with a background frame
  for (int j = 0; j < box.height; ++j)
    for (int i = 0; i < box.width; ++i)
      if (labels[std::size_t(box.y + j) * w + box.x + i] == label) part.row(j + 1)[i + 1] = 255;
  std::vector<Contour> outlines = find_external_contours(part);
  Contour best;
  double best_area = -1;
  for (Contour& c : outlines)
    if (const double a = contour_area(c); a > best_area) best_area = a, best = std::move(c);
  for (Point& pt : best) pt.x += x0 + box.x - 1, pt.y += y0 + box.y - 1;
  return best;
}

}  // namespace

std::vector<Contour> part_outlines(const std::vector<int>& labels, int w, int h, int count, const Blob& blob) {
  std::vector<Box> extent(count, Box{w, h, -1, -1});  // (min x, min y, max x, max y) for now
  for (std::size_t p = 0; p < labels.size(); ++p) {
    if (labels[p] == 0) continue;
    Box& e = extent[labels[p] - 1];
    const int i = int(p % w), j = int(p / w);
    e.x = std::min(e.x, i), e.y = std::min(e.y, j), e.width = std::max(e.width, i), e.height = std::max(e.height, j);
  }
  std::vector<Contour> parts;
  for (int k = 0; k < count; ++k) {
    Box e = extent[k];
    e.width = e.width - e.x + 1, e.height = e.height - e.y + 1;
    parts.push_back(e.width > 0 ? part_outline(labels, w, k + 1, e, blob.x0, blob.y0)
                                : Contour{});  // empty: no pixels left
  }
  return parts;
}

}  // namespace microsr
