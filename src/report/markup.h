// Text for HTML and SVG written by hand: escaping, relative URLs, and numbers as the page shows them.
#pragma once
#include <string>
#include <string_view>

namespace microsr::report {

// `text` made safe as element content or as a double-quoted attribute value in HTML and in XML:
// & < > " ' become entities, control characters other than tab, LF and CR are dropped (XML 1.0
// allows no others), and bytes that are not valid UTF-8 become U+FFFD. The result is well-formed
// whatever the input (a method label, an image name, a title from the command line).
std::string escape_markup(std::string_view text);

// A relative file path ("grids/a#1.png") as the path of a relative URL: every byte other than
// A–Z a–z 0–9 - . _ ~ / percent-encoded ("grids/a%231.png"), so '#', '?', '%', spaces and
// non-ASCII names keep pointing at the file.
std::string url_path(std::string_view relative_path);

// How many code points `text` (UTF-8) has: for estimating how wide a label is drawn.
std::size_t code_points(std::string_view text);

}  // namespace microsr::report
