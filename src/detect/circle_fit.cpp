// Circles through disk outlines and onto disk edges (include/microsr/detect.h: fit_circle,
// fit_circle_to_edge), robust to the parts of an outline or edge that are not the disk's:
//
//  * Kåsa's algebraic fit: the circle (x − a)² + (y − b)² = r² is x² + y² + D·x + E·y + F = 0 with
//    a = −D/2, b = −E/2, r² = a² + b² − F, linear in (D, E, F); weighted least squares over the
//    points is a 3×3 linear system. (Coordinates are taken about the points' mean so that the
//    system stays well conditioned for disks far from the origin.)
//  * A starting circle that a stray stretch cannot pull: when Kåsa's circle over all points has
//    fewer than 70 % of them within a pixel, the circles through triples of points (a third, a sixth
//    and a twelfth of the curve apart) are tried, and the one most points lie near wins.
//  * Iteratively reweighted: each point's residual is its distance to the circle, |p − c| − r; its
//    weight for the next fit is Tukey's biweight (1 − (e/k)²)² for |e| < k, else 0, with
//    k = 4.685 × the residuals' robust scale (their 30 % quantile / 0.385, at least half a pixel for
//    outlines: pixel outlines are never closer than that to a true circle). A bite out of the disk
//    (dust on its edge), the straight cut where stage 2 parted two touching disks, or a speck fused
//    to the edge then weigh nothing, and the circle follows the rest of the edge.
//
// Outline points are pixel centres on the blob's border; the blob's pixels extend half a pixel
// further, so fit_circle's radius is that of the points + 0.5 (the radius of the pixel region).
// fit_circle_to_edge's points are sub-pixel edge positions in the image and need no such offset.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "microsr/detect.h"

namespace microsr {
namespace {

// Solves the symmetric 3×3 system m·x = v by Cramer's rule; false when singular.
bool solve3(const double m[3][3], const double v[3], double x[3]) {
  auto det3 = [](const double a[3][3]) {
    return a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
           a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  };
  const double d = det3(m);
  if (!(std::abs(d) > 1e-12)) return false;
  for (int k = 0; k < 3; ++k) {
    double a[3][3];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) a[i][j] = j == k ? v[i] : m[i][j];
    x[k] = det3(a) / d;
  }
  return true;
}

// One weighted Kåsa fit on points (x, y) relative to their mean. False when degenerate.
bool kasa_fit(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& w, Circle& out) {
  // Minimise Σ wᵢ (zᵢ + D xᵢ + E yᵢ + F)², zᵢ = xᵢ² + yᵢ²: normal equations in (D, E, F).
  double m[3][3] = {}, v[3] = {};
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (w[i] <= 0) continue;
    const double row[3] = {x[i], y[i], 1}, z = x[i] * x[i] + y[i] * y[i];
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < 3; ++b) m[a][b] += w[i] * row[a] * row[b];
      v[a] -= w[i] * row[a] * z;
    }
  }
  double def[3];
  if (!solve3(m, v, def)) return false;
  out.x = -def[0] / 2, out.y = -def[1] / 2;
  const double r2 = out.x * out.x + out.y * out.y - def[2];
  if (!(r2 > 0)) return false;
  out.r = std::sqrt(r2);
  return true;
}

// The circle through three points; false when they are (nearly) on a line.
bool circumcircle(double ax, double ay, double bx, double by, double cx, double cy, Circle& out) {
  const double d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by));
  if (!(std::abs(d) > 1e-9)) return false;
  const double a2 = ax * ax + ay * ay, b2 = bx * bx + by * by, c2 = cx * cx + cy * cy;
  out.x = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d;
  out.y = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d;
  out.r = std::hypot(ax - out.x, ay - out.y);
  return true;
}

// Robust circle through points (px[i], py[i]) taken in order along a closed curve; false when
// degenerate. The starting circle is the best of Kåsa's fit over all points and the circles through
// triples of points a third, a sixth and a twelfth of the curve apart (so that an arc holding under
// half of the points still gets a circle through it), by the number of points within a pixel of it.
bool fit_circle_robust(const std::vector<double>& px, const std::vector<double>& py, double min_scale, Circle& circle) {
  const std::size_t n = px.size();
  if (n < 8) return false;
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < n; ++i) mx += px[i], my += py[i];
  mx /= double(n), my /= double(n);
  std::vector<double> x(n), y(n), w(n, 1.0), residual(n), magnitude(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = px[i] - mx, y[i] = py[i] - my;
  auto support = [&](const Circle& c) {  // points within a pixel of the circle: (r − 1)² ≤ d² ≤ (r + 1)²
    const double lo = c.r > 1 ? (c.r - 1) * (c.r - 1) : 0.0, hi = (c.r + 1) * (c.r + 1);
    std::size_t count = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double dx = x[i] - c.x, dy = y[i] - c.y, d2 = dx * dx + dy * dy;
      count += d2 >= lo && d2 <= hi;
    }
    return count;
  };
  Circle c;
  bool have = kasa_fit(x, y, w, c);
  std::size_t best = have ? support(c) : 0;
  if (best < n * 7 / 10)  // most points on Kåsa's circle already: a whole disk, no need to search
    for (const std::size_t parts : {3, 6, 12}) {
      const std::size_t gap = std::max<std::size_t>(1, n / parts), stride = std::max<std::size_t>(1, n / 24);
      for (std::size_t i = 0; i < n; i += stride) {
        const std::size_t j = (i + gap) % n, k = (i + 2 * gap) % n;
        Circle candidate;
        if (!circumcircle(x[i], y[i], x[j], y[j], x[k], y[k], candidate)) continue;
        if (const std::size_t count = support(candidate); count > best) best = count, c = candidate, have = true;
      }
    }
  if (!have) return false;
  // Iteratively reweighted Kåsa fits. The residuals' scale: their 30 % quantile / 0.385 (that of a
  // normal distribution's absolute values), which stays an inlier statistic with up to 70 % outliers.
  for (int iteration = 0; iteration < 10; ++iteration) {
    for (std::size_t i = 0; i < n; ++i) {
      const double dx = x[i] - c.x, dy = y[i] - c.y;
      residual[i] = std::sqrt(dx * dx + dy * dy) - c.r;
      magnitude[i] = std::abs(residual[i]);
    }
    const std::size_t q = n * 3 / 10;
    std::nth_element(magnitude.begin(), magnitude.begin() + q, magnitude.end());
    const double k = 4.685 * std::max(min_scale, magnitude[q] / 0.385);
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double u = residual[i] / k;
      w[i] = std::abs(u) < 1 ? (1 - u * u) * (1 - u * u) : 0.0;
      kept += w[i] > 0;
    }
    if (kept < std::max<std::size_t>(8, n / 4)) break;  // too little of the curve is on one circle: keep the last
    Circle next;
    if (!kasa_fit(x, y, w, next)) break;
    const double moved = std::abs(next.x - c.x) + std::abs(next.y - c.y) + std::abs(next.r - c.r);
    c = next;
    if (moved < 1e-3) break;  // pixels
  }
  circle = {c.x + mx, c.y + my, c.r};
  return true;
}

// Bilinear sample of `image` at (x, y), which must lie in [0, w − 1] × [0, h − 1].
double sample(const Plane8& image, double x, double y) {
  const int x0 = std::min(int(x), image.width - 2), y0 = std::min(int(y), image.height - 2);
  const double fx = x - x0, fy = y - y0;
  const uint8_t* a = image.row(y0) + x0;
  const uint8_t* b = a + image.width;
  return (a[0] * (1 - fx) + a[1] * fx) * (1 - fy) + (b[0] * (1 - fx) + b[1] * fx) * fy;
}

}  // namespace

bool fit_circle(const Contour& outline, Circle& circle) {
  std::vector<double> x, y;
  x.reserve(outline.size()), y.reserve(outline.size());
  for (const Point& p : outline) x.push_back(p.x), y.push_back(p.y);
  if (!fit_circle_robust(x, y, 0.5, circle)) return false;
  circle.r += 0.5;
  return true;
}

namespace {

// How far either side of the radius fit_circle_to_edge looks for the edge, pixels.
double edge_reach(double radius) { return std::max(3.0, 0.06 * radius); }

// The rays fit_circle_to_edge samples about a circle: one per pixel of circumference (at most 128);
// along each, every quarter pixel over ±edge_reach of the radius.
struct Rays {
  static constexpr double kStep = 0.25;
  int count = 0, samples = 0;
  double t0 = 0;  // distance from the centre of the first sample
  explicit Rays(const Circle& c)
      : count(std::clamp(int(std::lround(2 * std::numbers::pi * c.r)), 16, 128)),
        samples(int(2 * edge_reach(c.r) / kStep) + 1),
        t0(c.r - edge_reach(c.r)) {}
};

// Along ray k about `c`: where the brightness falls most steeply outwards (sign −1; rises, +1), as
// a distance from the centre, and how steeply (grey levels per half pixel). False when the ray leaves
// the image, its steepest fall is under one grey level per pixel, or lies at the window's end (the
// edge may be beyond). value: scratch of rays.samples entries.
bool ray_edge(const Plane8& image, const Circle& c, const Rays& rays, int k, double sign, double* value, double& t,
              double& drop) {
  const double angle = 2 * std::numbers::pi * k / rays.count, dx = std::cos(angle), dy = std::sin(angle);
  const double t1 = rays.t0 + (rays.samples - 1) * Rays::kStep;
  const double xa = c.x + dx * rays.t0, ya = c.y + dy * rays.t0, xb = c.x + dx * t1, yb = c.y + dy * t1;
  if (std::min({xa, xb, ya, yb}) < 0 || std::max(xa, xb) > image.width - 1 || std::max(ya, yb) > image.height - 1)
    return false;
  for (int i = 0; i < rays.samples; ++i) {
    const double at = rays.t0 + i * Rays::kStep;
    value[i] = sample(image, c.x + dx * at, c.y + dy * at);
  }
  // The steepest fall outwards: central differences over half a pixel, v[i − 1] − v[i + 1].
  int best = -1;
  drop = 0;
  for (int i = 1; i + 1 < rays.samples; ++i)
    if (const double d = sign * (value[i + 1] - value[i - 1]); d > drop) drop = d, best = i;
  if (best < 2 || best + 2 >= rays.samples || drop < 2 * Rays::kStep) return false;
  // To a fraction of a step: the vertex of the parabola through the drops at best − 1, best, best + 1.
  const double before = sign * (value[best] - value[best - 2]), after = sign * (value[best + 2] - value[best]);
  const double curvature = before - 2 * drop + after;
  const double offset = curvature < 0 ? std::clamp(0.5 * (before - after) / curvature, -0.5, 0.5) : 0.0;
  t = rays.t0 + (best + offset) * Rays::kStep;
  return true;
}

// One pass of fit_circle_to_edge: edge points along rays about `circle`, and the circle through them.
bool edge_pass(const Plane8& image, bool dark_disk, Circle& circle) {
  const Rays rays(circle);
  std::vector<double> value(rays.samples), ex, ey;
  for (int k = 0; k < rays.count; ++k) {
    double t, drop;
    if (!ray_edge(image, circle, rays, k, dark_disk ? 1.0 : -1.0, value.data(), t, drop)) continue;
    const double angle = 2 * std::numbers::pi * k / rays.count;
    ex.push_back(circle.x + std::cos(angle) * t), ey.push_back(circle.y + std::sin(angle) * t);
  }
  if (int(ex.size()) < rays.count / 2) return false;
  return fit_circle_robust(ex, ey, 0.25, circle);
}

double median(std::vector<double>& v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// The radius extrapolated to no blur (see fit_circle_to_edge), about circle's centre; false when the
// two measurements do not make sense together.
bool unblurred_radius(const Plane8& image, const Plane8& smoothed, bool dark_disk, Circle& circle) {
  const Rays rays(circle);
  std::vector<double> value(rays.samples), t1, t2, m1, m2;
  for (int k = 0; k < rays.count; ++k) {
    double ta, da, tb, db;
    if (!ray_edge(image, circle, rays, k, dark_disk ? 1.0 : -1.0, value.data(), ta, da) ||
        !ray_edge(smoothed, circle, rays, k, dark_disk ? 1.0 : -1.0, value.data(), tb, db))
      continue;
    t1.push_back(ta), t2.push_back(tb), m1.push_back(da), m2.push_back(db);
  }
  if (int(t1.size()) < rays.count / 2) return false;
  const double r1 = median(t1), r2 = median(t2), ratio = median(m1) / median(m2);
  // (m1/m2)² = (σ0² + σa²)/σ0², so σ0²/σa² = 1/q with q = (m1/m2)² − 1. Outside 0.1 ≤ q ≤ 10
  // (σ0 from 0.3 σa to 3 σa) the slopes are not those of one blurred edge: leave the radius.
  const double q = ratio * ratio - 1;
  if (!(q >= 0.1 && q <= 10)) return false;
  circle.r -= (r2 - r1) / q;
  return true;
}

}  // namespace

bool fit_circle_to_edge(const Plane8& image, bool dark_disk, Circle& circle, const Plane8* smoothed) {
  if (image.width < 2 || image.height < 2 || !(circle.r >= 2)) return false;
  // A second pass when the first moved the centre by more than half a pixel, or the radius by more
  // than a third of the search window: the first pass's rays then crossed the edge off the normal,
  // or near the ends of their windows.
  Circle fitted = circle;
  for (int pass = 0; pass < 2; ++pass) {
    const Circle before = fitted;
    if (!edge_pass(image, dark_disk, fitted)) {
      if (pass == 0) return false;
      break;  // keep the first pass's circle
    }
    if (std::hypot(fitted.x - before.x, fitted.y - before.y) <= 0.5 &&
        std::abs(fitted.r - before.r) <= edge_reach(before.r) / 3)
      break;
  }
  if (smoothed && smoothed->width == image.width && smoothed->height == image.height)
    unblurred_radius(image, *smoothed, dark_disk, fitted);
  circle = fitted;
  return true;
}

}  // namespace microsr
