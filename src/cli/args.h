// The command line of every subcommand: one table of Option rows per command (its CommandSpec),
// from which both the parsing with its checks and the printed --help are made, so an option's
// name, value, default, range and help line are written once.
//
// Why our own small table and not CLI11 (Debian libcli11-dev): the tests and scripts rely on our
// exact error wording ("option --block-size expects an integer, got 'abc'", "unknown option ...");
// we need a usage error to be a typed exception (UsageError) that main() maps to exit status 2,
// while the tests call the subcommands in-process and expect them to throw or return, never to
// exit; and ~200 lines here cost less than a new build dependency on every lab machine and CI.
#pragma once
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "microsr/error.h"

namespace microsr::cli {

// Throws UsageError(message) when `condition` is false: for checks a table row cannot express.
inline void require_usage(bool condition, const std::string& message) {
  if (!condition) throw UsageError(message);
}

// One option. Build rows with the functions below and refine them with the chained setters:
//   integer("--tile-pad", "N", "10", "context pixels around each tile").at_least(0)
struct Option {
  enum class Kind { flag, integer, number, text, choice };
  std::string name;   // the long form, "--tile"
  std::string alias;  // a short form ("-o"), or ""
  Kind kind = Kind::flag;
  std::string value_name;     // how the help names the value: "N", "PATH"
  std::string fallback;       // the value when the option is absent ("" = none: has() is false)
  std::string shown_default;  // the default as the help says it, when it is not just `fallback`
  std::string help;           // what it does; "\n" starts a new help line
  // integer, number: the accepted range (open bounds exclude the bound itself).
  double min = -std::numeric_limits<double>::infinity(), max = std::numeric_limits<double>::infinity();
  bool min_open = false, max_open = false;
  // choice: the accepted values; integer: words accepted besides numbers (e.g. "auto").
  std::vector<std::string> words;
  // text: a check of the value, which throws Error with a message naming the option.
  std::function<void(const std::string&)> check;
  // May be given several times (`--eval A --eval B`): Args::get_all() has every value in order,
  // get() the last. The help shows it as "--eval DIR...".
  bool repeatable = false;

  Option& short_name(std::string s) {
    alias = std::move(s);
    return *this;
  }
  Option& at_least(double v) {
    min = v, min_open = false;
    return *this;
  }
  Option& above(double v) {
    min = v, min_open = true;
    return *this;
  }
  Option& at_most(double v) {
    max = v, max_open = false;
    return *this;
  }
  Option& below(double v) {
    max = v, max_open = true;
    return *this;
  }
  Option& or_words(std::vector<std::string> w) {
    words = std::move(w);
    return *this;
  }
  Option& checked_by(std::function<void(const std::string&)> f) {
    check = std::move(f);
    return *this;
  }
  Option& repeats() {
    repeatable = true;
    return *this;
  }
  Option& default_is(std::string text) {
    shown_default = std::move(text);
    return *this;
  }
};

Option flag(std::string name, std::string help);
Option integer(std::string name, std::string value_name, std::string fallback, std::string help);
Option number(std::string name, std::string value_name, std::string fallback, std::string help);
Option text(std::string name, std::string value_name, std::string fallback, std::string help);
Option choice(std::string name, std::vector<std::string> choices, std::string fallback, std::string help);

struct CommandSpec {
  std::string name;      // "upscale"
  std::string synopsis;  // what follows "usage: microsr upscale "
  std::string about;     // the paragraphs before the options
  std::vector<Option> options;
  std::string notes;  // after the options (files written, logs), before the exit-status footer
};

// The exit-status contract every command keeps, as its --help footer and the README say it.
inline constexpr const char* kExitStatusHelp =
    "exit status: 0 done; 1 some inputs failed (listed) or a runtime error; 2 usage error (unknown\n"
    "or bad option, bad value, missing argument); 130 interrupted (Ctrl-C).\n";

// A library default as a table's fallback text: 0.5 -> "0.5", 200000 -> "200000".
std::string default_text(double value);

// The full --help text: usage line, about, the options table, notes, exit-status footer.
std::string help_text(const CommandSpec& spec);

// The parsed command line: positional arguments, and each option's checked value. Throws
// UsageError for unknown options, missing values and values of the wrong type, out of range or
// not among the choices, unless -h/--help is among the arguments (then help() is true).
class Args {
 public:
  Args(int argc, char** argv, const CommandSpec& spec);
  // True when the option was given (not merely defaulted).
  bool has(const std::string& name) const { return given_.count(name) > 0; }
  // The value given, else the table's fallback ("" when it has none).
  std::string get(const std::string& name) const;
  int get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  // Every value given for a repeatable option, in command-line order (empty when absent).
  std::vector<std::string> get_all(const std::string& name) const;
  std::string output() const { return get("--output"); }  // -o / --output
  const std::vector<std::string>& positional() const { return positional_; }
  bool help() const { return help_; }

 private:
  const Option& option(const std::string& name) const;
  CommandSpec spec_;
  std::map<std::string, std::string> given_;                   // by long name
  std::map<std::string, std::vector<std::string>> all_given_;  // repeatable options: every value
  std::vector<std::string> positional_;
  bool help_ = false;
};

}  // namespace microsr::cli
