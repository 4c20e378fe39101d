// The option tables (src/cli/args.h): one row per option gives its parsing, its checks and its
// --help line.
#include <gtest/gtest.h>

#include "cli/args.h"
#include "test_helpers.h"

using namespace microsr;
using namespace microsr::cli;

namespace {

const CommandSpec kSpec{"demo",
                        "IN -o OUT [options]",
                        "A command for the tests.\n",
                        {
                            text("--output", "PATH", "", "where to write").short_name("-o"),
                            integer("--tile", "N|auto", "auto", "tile size").at_least(0).or_words({"auto"}),
                            integer("--count", "N", "1", "how many").at_least(1).at_most(8),
                            number("--lr", "X", "1e-4", "learning rate").above(0).below(1),
                            choice("--mode", {"fast", "exact", "both"}, "fast", "how"),
                            text("--device", "DEV", "cpu", "where").checked_by([](const std::string& v) {
                              require(v == "cpu" || v == "gpu", "--device must be cpu or gpu, got '" + v + "'");
                            }),
                            flag("--overwrite", "replace outputs"),
                        },
                        "Notes after the options.\n"};

Args parse(std::vector<std::string> words) {
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  return Args(int(argv.size()), argv.data(), kSpec);
}

void expect_usage_error(std::vector<std::string> words, const std::string& needle) {
  try {
    parse(std::move(words));
    ADD_FAILURE() << "no UsageError; expected one mentioning: " << needle;
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(CliArgs, ValuesDefaultsAliasesAndPositionals) {
  const Args a = parse({"in.png", "-o", "out", "--count=3", "--lr", "0.5", "--overwrite", "--tile", "auto"});
  EXPECT_EQ(a.positional(), std::vector<std::string>{"in.png"});
  EXPECT_EQ(a.output(), "out");
  EXPECT_EQ(a.get_int("--count"), 3);
  EXPECT_DOUBLE_EQ(a.get_double("--lr"), 0.5);
  EXPECT_TRUE(a.has("--overwrite"));
  EXPECT_EQ(a.get("--tile"), "auto");
  // Absent options give the table's fallback, and has() says they were not given.
  const Args d = parse({"in.png"});
  EXPECT_FALSE(d.has("--count"));
  EXPECT_EQ(d.get_int("--count"), 1);
  EXPECT_DOUBLE_EQ(d.get_double("--lr"), 1e-4);
  EXPECT_EQ(d.get("--mode"), "fast");
  EXPECT_EQ(d.output(), "");
  EXPECT_FALSE(d.has("--overwrite"));
  EXPECT_EQ(parse({"--tile", "12"}).get_int("--tile"), 12);
}

TEST(CliArgs, BadCommandLinesAreUsageErrorsNamingTheOption) {
  expect_usage_error({"--bogus"}, "unknown option --bogus");
  expect_usage_error({"-x"}, "unknown option -x");
  expect_usage_error({"--count"}, "option --count needs a value");
  expect_usage_error({"--count", "two"}, "option --count expects an integer, got 'two'");
  expect_usage_error({"--count", "2.5"}, "expects an integer");
  expect_usage_error({"--count", "0"}, "option --count must be in 1..8, got 0");
  expect_usage_error({"--count", "9"}, "in 1..8");
  expect_usage_error({"--tile", "-3"}, "option --tile must be ≥ 0, got -3");
  expect_usage_error({"--tile", "big"}, "expects an integer or auto, got 'big'");
  expect_usage_error({"--lr", "1"}, "option --lr must be in (0, 1), got 1");
  expect_usage_error({"--lr", "x"}, "option --lr expects a number, got 'x'");
  expect_usage_error({"--lr", "nan"}, "--lr must be in (0, 1)");
  expect_usage_error({"--mode", "slow"}, "option --mode must be fast, exact or both, got 'slow'");
  expect_usage_error({"--device", "tpu"}, "--device must be cpu or gpu, got 'tpu'");
  expect_usage_error({"--overwrite=yes"}, "option --overwrite takes no value");
}

TEST(CliArgs, HelpWinsOverOtherMistakes) {
  EXPECT_TRUE(parse({"--bogus", "--help"}).help());
  EXPECT_TRUE(parse({"-h", "--count", "0"}).help());
  EXPECT_FALSE(parse({}).help());
}

TEST(CliArgs, NegativeNumbersAreValuesAndPositionals) {
  expect_usage_error({"--count", "-5"}, "must be in 1..8, got -5");
  EXPECT_EQ(parse({"-5"}).positional(), std::vector<std::string>{"-5"});
}

TEST(CliArgs, HelpIsMadeFromTheTable) {
  const std::string help = help_text(kSpec);
  EXPECT_EQ(help.rfind("usage: microsr demo IN -o OUT [options]\n", 0), 0u) << help;
  for (const char* line : {"  -o, --output PATH", "--tile N|auto", "tile size (default: auto)", "--count N",
                           "how many (default: 1)", "--mode fast|exact|both", "how (default: fast)", "--overwrite",
                           "Notes after the options.", "exit status: 0 done;", "2 usage error", "130 interrupted"})
    EXPECT_NE(help.find(line), std::string::npos) << line << " missing from\n" << help;
  EXPECT_EQ(help.find("replace outputs (default"), std::string::npos) << "a flag has no default";
}

TEST(CliArgs, DefaultTextOfLibraryDefaults) {
  EXPECT_EQ(default_text(0.5), "0.5");
  EXPECT_EQ(default_text(200000), "200000");
  EXPECT_EQ(default_text(-2), "-2");
}

TEST(CliArgs, ARepeatableOptionKeepsEveryValueInOrder) {
  const CommandSpec spec{
      "demo", "", "", {text("--eval", "DIR", "", "a folder").repeats(), text("--title", "T", "", "")}, ""};
  std::vector<std::string> words = {"--eval", "a", "--title", "x", "--eval=b", "--eval", "a"};
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  const Args args(int(argv.size()), argv.data(), spec);
  EXPECT_EQ(args.get_all("--eval"), (std::vector<std::string>{"a", "b", "a"}));
  EXPECT_EQ(args.get("--eval"), "a");
  EXPECT_THROW(args.get_all("--title"), std::logic_error) << "only a repeatable option has every value";
  EXPECT_NE(help_text(spec).find("--eval DIR..."), std::string::npos) << help_text(spec);
  const Args none(0, nullptr, spec);
  EXPECT_TRUE(none.get_all("--eval").empty());
}

}  // namespace
