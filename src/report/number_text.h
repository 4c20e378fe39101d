// Numbers as the report shows them: fixed decimals with a true minus sign, signs on differences,
// percentages, and compact coordinates for SVG. All use the "C" locale's decimal point (the
// program never calls setlocale), so the same numbers always give the same bytes.
#pragma once
#include <string>

namespace microsr::report {

inline constexpr const char* kMinus = "\xE2\x88\x92";       // U+2212 MINUS SIGN
inline constexpr const char* kNotANumber = "\xE2\x80\x94";  // U+2014 EM DASH: a value that is absent

// `value` rounded to `decimals` places: "30.26", "−0.50" (never "−0.00"); kNotANumber when not finite.
std::string fixed(double value, int decimals);
// The same with an explicit sign for differences: "+6.81", "−0.25", "0.00".
std::string signed_fixed(double value, int decimals);
// A fraction as a percentage: 0.973 → "97.3%".
std::string percent(double fraction, int decimals = 1);
// "[29.50, 30.70]"
std::string interval_text(double low, double high, int decimals);

// The decimals that show a series of values whose largest magnitude is `largest` with about four
// significant digits: 30.26 → 2, 0.9192 → 4, 6.540 → 3, 1234 → 0 (at most 6).
int decimals_for(double largest);

// A coordinate or length in an SVG: at most two decimals, trailing zeros dropped ("12.5", "-3").
std::string svg_number(double value);

}  // namespace microsr::report
