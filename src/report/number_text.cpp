#include "report/number_text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace microsr::report {

std::string fixed(double value, int decimals) {
  if (!std::isfinite(value)) return kNotANumber;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  std::string text = buf;
  if (text[0] != '-') return text;
  // "-0.00" is zero as shown: drop the sign; otherwise write a real minus.
  if (text.find_first_not_of("-0.") == std::string::npos) return text.substr(1);
  return kMinus + text.substr(1);
}

std::string signed_fixed(double value, int decimals) {
  const std::string text = fixed(value, decimals);
  if (!std::isfinite(value) || text.starts_with(kMinus)) return text;
  if (text.find_first_not_of("0.") == std::string::npos) return text;  // zero as shown: no sign
  return "+" + text;
}

std::string percent(double fraction, int decimals) {
  if (!std::isfinite(fraction)) return kNotANumber;
  return fixed(fraction * 100, decimals) + "%";
}

std::string interval_text(double low, double high, int decimals) {
  return "[" + fixed(low, decimals) + ", " + fixed(high, decimals) + "]";
}

int decimals_for(double largest) {
  largest = std::fabs(largest);
  if (!std::isfinite(largest) || largest == 0) return 2;
  const int magnitude = int(std::floor(std::log10(largest)));  // 30 → 1, 0.9 → −1
  return std::clamp(3 - magnitude, 0, 6);
}

std::string svg_number(double value) {
  if (!std::isfinite(value)) value = 0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", value);
  std::string text = buf;
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  if (text == "-0") text = "0";
  return text;
}

}  // namespace microsr::report
