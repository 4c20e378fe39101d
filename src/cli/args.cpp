#include "args.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

namespace microsr::cli {

namespace {

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// "a, b or c"
std::string listing(const std::vector<std::string>& words) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i)
    out += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + words[i];
  return out;
}

// The accepted range as the messages say it: "1..8", "≥ 0", "(0, 1]".
std::string range_text(const Option& o) {
  const bool has_min = std::isfinite(o.min), has_max = std::isfinite(o.max);
  if (has_min && has_max) {
    if (o.kind == Option::Kind::integer && !o.min_open && !o.max_open)
      return "in " + number_text(o.min) + ".." + number_text(o.max);
    return std::string("in ") + (o.min_open ? "(" : "[") + number_text(o.min) + ", " + number_text(o.max) +
           (o.max_open ? ")" : "]");
  }
  if (has_min) return (o.min_open ? "> " : "≥ ") + number_text(o.min);
  return (o.max_open ? "< " : "≤ ") + number_text(o.max);
}

std::optional<double> parse_number(const std::string& text, bool integral) {
  try {
    std::size_t used = 0;
    const double v = integral ? double(std::stoi(text, &used)) : std::stod(text, &used);
    if (used == text.size()) return v;
  } catch (const std::logic_error&) {  // not a number, or out of int's range
  }
  return std::nullopt;
}

bool in_range(const Option& o, double v) {
  const bool low = o.min_open ? v > o.min : v >= o.min;
  const bool high = o.max_open ? v < o.max : v <= o.max;
  return low && high;
}

// Throws UsageError when `value` is not what `o` accepts.
void check_value(const Option& o, const std::string& value) {
  using Kind = Option::Kind;
  const std::string got = ", got '" + value + "'";
  if (o.kind == Kind::choice) {
    require_usage(std::find(o.words.begin(), o.words.end(), value) != o.words.end(),
                  "option " + o.name + " must be " + listing(o.words) + got);
  } else if (o.kind == Kind::integer || o.kind == Kind::number) {
    if (std::find(o.words.begin(), o.words.end(), value) != o.words.end()) return;  // e.g. "auto"
    const bool integral = o.kind == Kind::integer;
    const std::optional<double> v = parse_number(value, integral);
    const std::string what = integral ? "an integer" : "a number";
    require_usage(v.has_value(),
                  "option " + o.name + " expects " + (o.words.empty() ? what : what + " or " + listing(o.words)) + got);
    require_usage(std::isfinite(*v) && in_range(o, *v),
                  "option " + o.name + " must be " + range_text(o) + ", got " + value);
  } else if (o.kind == Kind::text && o.check) {
    try {
      o.check(value);
    } catch (const UsageError&) {
      throw;
    } catch (const Error& e) {  // a parser from the library: its message, as a usage error
      throw UsageError(e.what());
    }
  }
}

bool looks_like_option(const std::string& a) {
  return a.size() > 1 && a[0] == '-' && !std::isdigit(static_cast<unsigned char>(a[1]));
}

// "--tile N|auto" or "-o, --output PATH": the left column of the help.
std::string option_label(const Option& o) {
  std::string label = o.alias.empty() ? o.name : o.alias + ", " + o.name;
  if (o.kind != Option::Kind::flag) label += " " + o.value_name;
  if (o.repeatable) label += "...";
  return label;
}

}  // namespace

Option flag(std::string name, std::string help) {
  Option o;
  o.name = std::move(name), o.kind = Option::Kind::flag, o.help = std::move(help);
  return o;
}

Option integer(std::string name, std::string value_name, std::string fallback, std::string help) {
  Option o;
  o.name = std::move(name), o.kind = Option::Kind::integer, o.value_name = std::move(value_name);
  o.fallback = std::move(fallback), o.help = std::move(help);
  return o;
}

Option number(std::string name, std::string value_name, std::string fallback, std::string help) {
  Option o = integer(std::move(name), std::move(value_name), std::move(fallback), std::move(help));
  o.kind = Option::Kind::number;
  return o;
}

Option text(std::string name, std::string value_name, std::string fallback, std::string help) {
  Option o = integer(std::move(name), std::move(value_name), std::move(fallback), std::move(help));
  o.kind = Option::Kind::text;
  return o;
}

Option choice(std::string name, std::vector<std::string> choices, std::string fallback, std::string help) {
  std::string value_name;
  for (const auto& c : choices) value_name += (value_name.empty() ? "" : "|") + c;
  Option o = text(std::move(name), value_name, std::move(fallback), std::move(help));
  o.kind = Option::Kind::choice, o.words = std::move(choices);
  return o;
}

std::string default_text(double value) { return number_text(value); }

std::string help_text(const CommandSpec& spec) {
  std::string out = "usage: microsr " + spec.name + " " + spec.synopsis + "\n\n" + spec.about;
  if (!spec.options.empty()) out += "\noptions:\n";
  std::size_t column = 0;  // where the help lines start: after the longest label that is not too long
  for (const Option& o : spec.options) column = std::max(column, std::min<std::size_t>(option_label(o).size(), 22));
  column += 4;
  for (const Option& o : spec.options) {
    std::string help = o.help;
    const std::string shown = o.shown_default.empty() ? o.fallback : o.shown_default;
    if (!shown.empty()) {  // on the last line when it fits in 100 columns, else on a line of its own
      const std::string note = "(default: " + shown + ")";
      const std::size_t last_line = help.size() - (help.rfind('\n') == std::string::npos ? 0 : help.rfind('\n') + 1);
      help += (column + last_line + 1 + note.size() <= 100 ? " " : "\n") + note;
    }
    std::string line = "  " + option_label(o);
    std::size_t start = 0;
    do {  // one output line per "\n"-separated piece of the help
      const std::size_t end = help.find('\n', start);
      const std::string piece = help.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (line.size() + 1 > column) out += line + "\n", line.clear();
      line.resize(column, ' ');
      out += line + piece + "\n";
      line.clear();
      start = end == std::string::npos ? end : end + 1;
    } while (start != std::string::npos);
  }
  if (!spec.notes.empty()) out += "\n" + spec.notes;
  return out + "\n" + kExitStatusHelp;
}

Args::Args(int argc, char** argv, const CommandSpec& spec) : spec_(spec) {
  std::optional<UsageError> first_error;  // reported after the loop, unless --help was asked for
  auto fail = [&](const std::string& message) {
    if (!first_error) first_error.emplace(message);
  };
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      help_ = true;
      continue;
    }
    if (!looks_like_option(a)) {
      positional_.push_back(a);
      continue;
    }
    const auto eq = a.find('=');
    const std::string name = a.substr(0, eq);
    const auto found = std::find_if(spec_.options.begin(), spec_.options.end(),
                                    [&](const Option& o) { return o.name == name || o.alias == name; });
    if (found == spec_.options.end()) {
      fail("unknown option " + name + " (see --help)");
      continue;
    }
    if (found->kind == Option::Kind::flag) {
      if (eq != std::string::npos) fail("option " + name + " takes no value");
      given_[found->name] = "1";
      continue;
    }
    std::string value;
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      fail("option " + name + " needs a value");
      continue;
    }
    try {
      check_value(*found, value);
      given_[found->name] = value;
      if (found->repeatable) all_given_[found->name].push_back(value);
    } catch (const UsageError& e) {
      fail(e.what());
    }
  }
  if (first_error && !help_) throw *first_error;
}

const Option& Args::option(const std::string& name) const {
  for (const Option& o : spec_.options)
    if (o.name == name) return o;
  throw std::logic_error("microsr " + spec_.name + " has no option " + name);  // a bug in the command
}

std::string Args::get(const std::string& name) const {
  const auto it = given_.find(name);
  return it != given_.end() ? it->second : option(name).fallback;
}

int Args::get_int(const std::string& name) const {
  const std::string v = get(name);
  const std::optional<double> n = parse_number(v, true);
  if (!n) throw std::logic_error("option " + name + " has no integer value ('" + v + "')");  // a bug: see has()
  return int(*n);
}

std::vector<std::string> Args::get_all(const std::string& name) const {
  const Option& o = option(name);
  if (!o.repeatable) throw std::logic_error("option " + name + " is not repeatable");  // a bug in the command
  const auto it = all_given_.find(name);
  return it == all_given_.end() ? std::vector<std::string>{} : it->second;
}

double Args::get_double(const std::string& name) const {
  const std::string v = get(name);
  const std::optional<double> n = parse_number(v, false);
  if (!n) throw std::logic_error("option " + name + " has no numeric value ('" + v + "')");
  return *n;
}

}  // namespace microsr::cli
