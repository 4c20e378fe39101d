// The mechanics of stage 2 of the detector on one blob (blob.cpp): the blob filled in a box of its
// own, opened, its distance transform's significant peaks, the watershed from them, and the outlines
// of the parts. Internal to src/detect; split.cpp (the stage's decisions) is the user.
#pragma once
#include <cstdint>
#include <vector>

#include "microsr/segment.h"

namespace microsr {

// A blob in a box around it with a background frame: box pixel (i, j) is image pixel (x0 + i, y0 + j).
struct Blob {
  int x0 = 0, y0 = 0;
  Plane8 filled;  // 255 on the blob and its holes
};

// The 8-connected component of `mask` that `contour` outlines, with its holes filled, in its
// bounding box with a frame `pad` ≥ 1 pixels wide.
Blob fill_blob(const Plane8& mask, const Contour& contour, int pad);

// The blob opened by a disk of radius rho — the union of all such disks that fit inside it — which
// drops what is thinner than 2·rho (a scratch or a thin bridge running into the blob) and leaves
// disks much larger than rho as they are. d2: the blob's squared distance transform. The frame must
// be wider than rho (the outside of the box counts as background).
Plane8 open_by_disk(const Plane8& blob, const std::vector<int32_t>& d2, double rho);

// The pixels with d2 > 0 from the highest squared distance down, among equals in raster order; and
// each pixel's level: the rank of its distance among the distinct distances, 0 the highest.
struct Levels {
  std::vector<int> order;
  std::vector<int> level;  // per box pixel (unused where d2 = 0)
  int count = 0;           // distinct distances
};
Levels sort_by_distance(const std::vector<int32_t>& d2);

// The peaks (box pixel indices) of the separate disks in a blob whose squared distance transform is
// d2 (box of width w, zero on the frame), highest first. Pixels enter from the highest distance down
// and grow regions by union-find over 8-neighbours; when two regions meet at distance s, the one with
// the lower peak p ends there, and was a disk of its own when s ≤ saddle·p and p ≥ min_radius (the
// persistence of the maxima, relative to their height). The regions left at the end are disks too
// when their peak is ≥ min_radius.
std::vector<int> disk_peaks(const std::vector<int32_t>& d2, const Levels& levels, int w, double saddle,
                            double min_radius);

// Meyer's watershed on the distance transform: labels[p] = k + 1 for the pixels flooded from
// peaks[k] (highest distance first, each pixel joining the flood that reaches it first), 0 elsewhere.
std::vector<int> flood_from_peaks(const std::vector<int32_t>& d2, const Levels& levels, int w,
                                  const std::vector<int>& peaks);

// The outlines, in image coordinates, of the parts labelled 1..count (box of width w, height h); the
// largest piece of each, and an empty contour for a label no pixel has.
std::vector<Contour> part_outlines(const std::vector<int>& labels, int w, int h, int count, const Blob& blob);

}  // namespace microsr
