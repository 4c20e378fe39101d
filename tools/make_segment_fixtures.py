"""Writes tests/data/segment/: OpenCV goldens for include/microsr/segment.h and the detector.

Made by OpenCV itself (Debian's python3-opencv, cv2 4.x) on small uint8 images:
  shapes.png                 160×120 mask of awkward shapes: disks, a thick and a one-pixel ring
                             each holding a blob in its hole, touching and diagonal-touching blobs,
                             one-pixel lines (straight, diagonal, zig-zag), single pixels, a comb,
                             blobs cut by every edge and corner
  shapes_erode_k<k>.png      cv2.erode(shapes, getStructuringElement(MORPH_ELLIPSE, (k, k)))
  shapes_dilate_k<k>.png     cv2.dilate(...), and _open_/_close_ with cv2.morphologyEx
  shapes_contours.txt        cv2.findContours(shapes, RETR_EXTERNAL, CHAIN_APPROX_NONE) with
                             contourArea, arcLength(closed), boundingRect of each
  nested.png                 160×120 mask: five concentric rings with blobs between them, and a
                             patch of thresholded noise (many nested holes and islands)
  nested_contours.txt        its external contours, as shapes_contours.txt
  ellipses.txt               getStructuringElement(MORPH_ELLIPSE, (k, k)) for k = 1, 3, ..., 41
  scene.png                  160×120 RGB synthetic microscope-like field (disks on a textured,
                             unevenly lit substrate, noise)
  scene_gray.png             cv2.cvtColor(scene, COLOR_RGB2GRAY)
  scene_blur_k<k>.png        cv2.GaussianBlur(gray, (k, k), 0)  (BORDER_REFLECT_101)
  scene_thresh_<case>.png    cv2.adaptiveThreshold(gray, 255, ADAPTIVE_THRESH_GAUSSIAN_C, ...)
                             cases listed in THRESHOLD_CASES (name: block size, C, type)
  scene_mask_contours.txt    contours of scene_thresh_b15_cm3_bin.png, as shapes_contours.txt
  disks.png                  320×240 RGB field of disks (some touching, some cut by the border,
                             distractors) for the whole detection pipeline
  disks_detections.csv       opencv_detect(disks, DETECT_PARAMS): one row per external contour

Contour files: a line "contours N", then per contour a line "n area perimeter x y w h" followed
by n lines "x y" — in OpenCV's order (reverse raster order of the first points).

Usage: /usr/bin/python3 tools/make_segment_fixtures.py [--out tests/data/segment]
       (needs python3-opencv: apt-get install -y python3-opencv)
"""
import argparse
import math
import os

import cv2
import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MORPH_SIZES = (3, 5, 7, 11)
BLUR_SIZES = (3, 5, 7, 9, 15, 25, 51)
# name: (block size, C, type). "cm3" = C −3; "c1p5" = C 1.5.
THRESHOLD_CASES = {
    "b3_c0_bin": (3, 0.0, cv2.THRESH_BINARY),
    "b11_c2_bin": (11, 2.0, cv2.THRESH_BINARY),
    "b15_cm3_bin": (15, -3.0, cv2.THRESH_BINARY),
    "b25_cm2p5_bin": (25, -2.5, cv2.THRESH_BINARY),
    "b51_c1p5_inv": (51, 1.5, cv2.THRESH_BINARY_INV),
    "b31_cm1p5_inv": (31, -1.5, cv2.THRESH_BINARY_INV),
    "b201_cm4_bin": (201, -4.0, cv2.THRESH_BINARY),  # block larger than the image
}
# The parameters of the pipeline golden (src/detect: DetectParams with these values).
DETECT_PARAMS = dict(blur=5, block_size=31, c=-4.0, invert=False, open=3, close=5,
                     min_area=60.0, max_area=4000.0, min_circularity=0.6)


def opencv_detect(rgb, blur, block_size, c, invert, open, close, min_area, max_area, min_circularity):
    """The seed's classical pipeline in OpenCV. Returns (mask, rows); one row per external contour:
    dict(cx, cy, area, perimeter, circularity, x, y, w, h, accepted)."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    if blur > 1:
        gray = cv2.GaussianBlur(gray, (blur, blur), 0)
    kind = cv2.THRESH_BINARY_INV if invert else cv2.THRESH_BINARY
    mask = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, kind, block_size, c)
    if open > 1:
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (open, open)))
    if close > 1:
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close, close)))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    rows = []
    for contour in contours:
        area = cv2.contourArea(contour)
        perimeter = cv2.arcLength(contour, True)
        circ = 4 * math.pi * area / (perimeter * perimeter) if perimeter > 0 else 0.0
        m = cv2.moments(contour)
        if m["m00"] != 0:
            cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
        else:
            cx, cy = contour[:, 0, 0].mean(), contour[:, 0, 1].mean()
        x, y, w, h = cv2.boundingRect(contour)
        accepted = min_area <= area <= max_area and circ > min_circularity
        rows.append(dict(cx=cx, cy=cy, area=area, perimeter=perimeter, circularity=circ,
                         x=x, y=y, w=w, h=h, accepted=accepted))
    return mask, rows


def disk(canvas, cx, cy, r, value):
    """Paints a filled disk, edge anti-aliased by 4×4 supersampling (float canvas)."""
    h, w = canvas.shape[:2]
    y0, y1 = max(0, int(cy - r - 2)), min(h, int(cy + r + 3))
    x0, x1 = max(0, int(cx - r - 2)), min(w, int(cx + r + 3))
    if y0 >= y1 or x0 >= x1:
        return
    offsets = (np.arange(4) + 0.5) / 4 - 0.5
    ys = np.arange(y0, y1)[:, None, None, None] + offsets[None, None, :, None]
    xs = np.arange(x0, x1)[None, :, None, None] + offsets[None, None, None, :]
    cover = (((xs - cx) ** 2 + (ys - cy) ** 2) <= r * r).mean(axis=(2, 3))
    region = canvas[y0:y1, x0:x1]
    value = np.asarray(value, dtype=np.float64)
    if region.ndim == 3:
        cover = cover[:, :, None]
    canvas[y0:y1, x0:x1] = region * (1 - cover) + value * cover


def make_shapes():
    m = np.zeros((120, 160), np.uint8)
    cv2.circle(m, (20, 20), 12, 255, -1)                       # a plain disk
    cv2.circle(m, (60, 24), 16, 255, 5)                        # thick ring ...
    cv2.circle(m, (60, 24), 4, 255, -1)                        # ... with a blob in its hole
    cv2.circle(m, (105, 24), 14, 255, 1)                       # one-pixel ring ...
    m[22:27, 103:108] = 255                                    # ... with a blob in its hole
    cv2.circle(m, (140, 60), 9, 255, -1)                       # touching pair
    cv2.circle(m, (140, 78), 9, 255, -1)
    m[50:60, 20:30] = 255                                      # squares touching only diagonally
    m[60:70, 30:40] = 255
    m[85, 5:60] = 255                                          # one-pixel horizontal line
    m[60:100, 70] = 255                                        # one-pixel vertical line
    for i in range(30):                                        # diagonal line
        m[70 + i, 80 + i] = 255
    for i in range(20):                                        # zig-zag (8-connected staircase)
        m[95 + (i % 2), 20 + i] = 255
    m[75, 45] = 255                                            # isolated pixels
    m[77, 47] = 255
    m[100:112, 100:130] = 255                                  # a comb: spine and teeth
    m[90:100, 100:130:4] = 255
    cv2.circle(m, (0, 60), 10, 255, -1)                        # cut by the left edge
    cv2.circle(m, (159, 30), 8, 255, -1)                       # right edge
    cv2.circle(m, (80, 0), 7, 255, -1)                         # top edge
    cv2.circle(m, (40, 119), 9, 255, -1)                       # bottom edge
    m[110:120, 150:160] = 255                                  # bottom-right corner
    m[0:3, 0:3] = 255                                          # top-left corner
    m[112:120, 0] = 255                                        # a line along the left edge
    cv2.ellipse(m, (110, 60), (14, 7), 30, 0, 360, 255, -1)    # an ellipse with a notch
    m[58:62, 104:112] = 0
    return m


def make_nested():
    """Rings within rings within rings, blobs in every hole, and a speckle of random noise."""
    m = np.zeros((120, 160), np.uint8)
    for r, t in ((50, 4), (40, 3), (30, 1), (22, 5), (12, 2)):
        cv2.circle(m, (60, 60), r, 255, t)
    m[58:63, 58:63] = 255
    m[20:23, 58:61] = 255                                     # between the 2nd and 3rd rings
    rng = np.random.default_rng(5)
    noise = cv2.GaussianBlur(rng.random((120, 50)), (0, 0), 1.5)
    m[:, 110:] = np.where(noise > np.median(noise), 255, 0).astype(np.uint8)
    return m


def make_scene(w, h, disks, seed, distractors=True):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    light = 0.85 + 0.15 * np.cos((xx - w * 0.3) / w * 2.0) * np.cos((yy - h * 0.6) / h * 1.5)
    base = np.stack([0.32 * light, 0.36 * light, 0.40 * light], axis=2)
    base += 0.02 * rng.standard_normal((h, w, 1))  # substrate texture, gray
    for cx, cy, r in disks:
        disk(base, cx, cy, r + 1.5, (0.75, 0.78, 0.80))  # bright rim
        disk(base, cx, cy, r, (0.60, 0.64, 0.66))        # body
        disk(base, cx, cy, 0.55 * r, (0.55, 0.58, 0.62))  # pedestal
    if distractors:
        cv2.line(base, (int(w * 0.1), int(h * 0.9)), (int(w * 0.6), int(h * 0.75)), (0.7, 0.7, 0.7), 2)
        cv2.rectangle(base, (int(w * 0.75), int(h * 0.05)), (int(w * 0.95), int(h * 0.2)), (0.8, 0.8, 0.8), -1)
        disk(base, w * 0.5, h * 0.12, 2.0, (0.1, 0.1, 0.1))  # dust
    base = cv2.GaussianBlur(base, (0, 0), 0.8)
    base += 0.015 * rng.standard_normal(base.shape)
    return np.clip(np.rint(base * 255), 0, 255).astype(np.uint8)


def write_contours(path, contours):
    with open(path, "w") as f:
        f.write("contours %d\n" % len(contours))
        for c in contours:
            x, y, w, h = cv2.boundingRect(c)
            f.write("%d %.6f %.9f %d %d %d %d\n" % (len(c), cv2.contourArea(c), cv2.arcLength(c, True), x, y, w, h))
            for p in c[:, 0, :]:
                f.write("%d %d\n" % (p[0], p[1]))


def write_png(out, name, img):
    path = os.path.join(out, name)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(path, img), path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "data", "segment"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    out = args.out

    shapes = make_shapes()
    write_png(out, "shapes.png", shapes)
    for k in MORPH_SIZES:
        element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        write_png(out, "shapes_erode_k%d.png" % k, cv2.erode(shapes, element))
        write_png(out, "shapes_dilate_k%d.png" % k, cv2.dilate(shapes, element))
        write_png(out, "shapes_open_k%d.png" % k, cv2.morphologyEx(shapes, cv2.MORPH_OPEN, element))
        write_png(out, "shapes_close_k%d.png" % k, cv2.morphologyEx(shapes, cv2.MORPH_CLOSE, element))
    contours, _ = cv2.findContours(shapes, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    write_contours(os.path.join(out, "shapes_contours.txt"), contours)
    nested = make_nested()
    write_png(out, "nested.png", nested)
    contours, _ = cv2.findContours(nested, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    write_contours(os.path.join(out, "nested_contours.txt"), contours)
    with open(os.path.join(out, "ellipses.txt"), "w") as f:
        for k in range(1, 42, 2):
            element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
            f.write("%d\n" % k)
            for row in element:
                f.write("".join(str(int(v)) for v in row) + "\n")

    scene = make_scene(160, 120, [(30, 40, 14), (75, 60, 9), (92, 60, 7.5), (125, 85, 18), (8, 100, 11),
                                  (60, 100, 5)], seed=6)
    write_png(out, "scene.png", scene)
    gray = cv2.cvtColor(scene, cv2.COLOR_RGB2GRAY)
    write_png(out, "scene_gray.png", gray)
    for k in BLUR_SIZES:
        write_png(out, "scene_blur_k%d.png" % k, cv2.GaussianBlur(gray, (k, k), 0))
    for name, (block, c, kind) in THRESHOLD_CASES.items():
        mask = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, kind, block, c)
        write_png(out, "scene_thresh_%s.png" % name, mask)
    mask = cv2.imread(os.path.join(out, "scene_thresh_b15_cm3_bin.png"), cv2.IMREAD_UNCHANGED)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    write_contours(os.path.join(out, "scene_mask_contours.txt"), contours)

    rng = np.random.default_rng(60)
    disks = []
    for row in range(4):
        for col in range(6):
            if rng.random() < 0.12:
                continue  # a missing disk
            r = rng.uniform(9, 16)
            disks.append((20 + col * 55 + rng.uniform(-4, 4), 22 + row * 62 + rng.uniform(-4, 4), r))
    disks.append((disks[-1][0] + 2 * disks[-1][2] + 1, disks[-1][1], 10))  # touching its neighbour
    disks.append((318, 120, 12))                                          # cut by the right edge
    scene = make_scene(320, 240, disks, seed=61)
    write_png(out, "disks.png", scene)
    _, rows = opencv_detect(scene, **DETECT_PARAMS)
    with open(os.path.join(out, "disks_detections.csv"), "w") as f:
        f.write("cx,cy,area,perimeter,circularity,x,y,w,h,accepted\n")
        for r in rows:
            f.write("%.4f,%.4f,%.2f,%.6f,%.6f,%d,%d,%d,%d,%d\n" % (r["cx"], r["cy"], r["area"], r["perimeter"],
                                                                   r["circularity"], r["x"], r["y"], r["w"], r["h"],
                                                                   int(r["accepted"])))
    total = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    print("wrote %d files, %.1f KiB, to %s" % (len(os.listdir(out)), total / 1024, out))


if __name__ == "__main__":
    main()
