// The HTML report (src/report/, microsr report): the page is parsed back and checked against the
// study folders it was made from — every file it references exists, every number in its tables
// is the statistic recomputed from detailed_metrics.csv, its SVGs are well-formed with one bar per
// method × metric, and text from the files is escaped.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "html_scan.h"
#include "microsr/error.h"
#include "microsr/report.h"
#include "microsr/statistics.h"
#include "report/axis.h"
#include "report/markup.h"
#include "report/number_text.h"
#include "report/svg_chart.h"
#include "report_fixture.h"
#include "test_helpers.h"

namespace fs = std::filesystem;
namespace fx = microsr::testing::report_fixture;
namespace scan = microsr::testing::html;
using scan::Token;

namespace microsr {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A scratch folder with two study folders (one inside an evaluation folder, one given directly),
// a training log, an overlay and a run.json.
struct ReportFolder {
  std::string root = microsr::testing::temp_path("report");
  std::string eval = root + "/eval", sr_pairs = root + "/eval/sr_pairs", workflow = root + "/workflow_only";
  std::string page = root + "/out/report.html";
  ReportFolder() {
    fs::remove_all(root);
    fx::write_study_folder(sr_pairs, fx::sr_pairs_spec());
    fx::write_study_folder(workflow, fx::workflow_spec());
  }
  ~ReportFolder() { fs::remove_all(root); }

  ReportOptions options() const {
    ReportOptions o;
    o.output = page;
    o.evaluations = {eval, workflow};
    o.title = "Report <test> & \"quotes\"";
    return o;
  }
  std::string write_training_log(const std::string& csv) const {
    const std::string path = root + "/tuned.epochs.csv";
    std::ofstream(path) << csv;
    return path;
  }
};

// ---- reading the per-image values back, independently of src/report/ ----------------------------

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"')
      fields.back() += '"', ++i;
    else if (c == '"')
      quoted = !quoted;
    else if (c == ',' && !quoted)
      fields.emplace_back();
    else
      fields.back() += c;
  }
  return fields;
}

// (method, metric) → image → finite value, from a study folder's detailed_metrics.csv.
using Values = std::map<std::pair<std::string, std::string>, std::map<std::string, double>>;
Values values_from_csv(const std::string& folder) {
  std::ifstream in(folder + "/detailed_metrics.csv");
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = split_csv_line(line);
  Values values;
  while (std::getline(in, line)) {
    const std::vector<std::string> f = split_csv_line(line);
    for (std::size_t k = 2; k < f.size(); ++k) {
      const double v = std::strtod(f[k].c_str(), nullptr);
      if (std::isfinite(v)) values[{f[1], header[k]}][f[0]] = v;
    }
  }
  return values;
}

std::vector<double> series(const std::map<std::string, double>& by_image) {
  std::vector<double> v;
  for (const auto& [image, value] : by_image) v.push_back(value);
  return v;
}

// ---- numbers as the page shows them -------------------------------------------------------------

struct Shown {
  double value = NAN;
  int decimals = 0;
};

// "30.26", "−0.50", "+6.81", "97.5%" → value and decimals shown.
Shown parse_shown(std::string text) {
  const std::string minus = "\xE2\x88\x92";
  for (std::size_t at; (at = text.find(minus)) != std::string::npos;) text.replace(at, minus.size(), "-");
  std::string number;
  for (const char c : text)
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-') number += c;
  Shown s;
  if (number.empty()) return s;
  s.value = std::stod(number);
  const std::size_t dot = number.find('.');
  s.decimals = dot == std::string::npos ? 0 : int(number.size() - dot - 1);
  return s;
}

// Expects `text` to show `expected` correctly rounded to the decimals it shows.
void expect_shows(const std::string& text, double expected, const std::string& what, double scale = 1) {
  const Shown s = parse_shown(text);
  ASSERT_TRUE(std::isfinite(s.value)) << what << ": no number in '" << text << "'";
  const double half_unit = 0.5 * std::pow(10.0, -s.decimals);
  EXPECT_LE(std::fabs(s.value - expected * scale), half_unit * (1 + 1e-9))
      << what << ": shows '" << text << "', expected " << expected * scale;
}

// "[29.50, 30.70]" → its two halves.
std::pair<std::string, std::string> interval_parts(const std::string& text) {
  const std::size_t comma = text.find(',');
  EXPECT_NE(comma, std::string::npos) << "not an interval: " << text;
  if (comma == std::string::npos) return {"", ""};
  return {text.substr(0, comma), text.substr(comma + 1)};
}

// ---- the page's tables ---------------------------------------------------------------------------

struct Row {
  std::map<std::string, std::string> attrs;  // the <tr>'s data-* attributes
  std::vector<std::string> cells;            // the text of each <td>/<th>
};

// The body rows of every <table class="CLASS" data-study="STUDY">, by study.
std::map<std::string, std::vector<Row>> table_rows(const std::vector<Token>& tokens, const std::string& table_class) {
  std::map<std::string, std::vector<Row>> out;
  for (std::size_t k = 0; k < tokens.size(); ++k) {
    if (tokens[k].kind != Token::Kind::open || tokens[k].name != "table" || !tokens[k].has_class(table_class)) continue;
    const std::string study = tokens[k].attr("data-study");
    const std::size_t end = scan::element_end(tokens, k);
    bool in_body = false;
    for (std::size_t t = k; t < end; ++t) {
      if (tokens[t].name == "tbody") in_body = tokens[t].kind == Token::Kind::open;
      if (!in_body || tokens[t].kind != Token::Kind::open || tokens[t].name != "tr") continue;
      Row row;
      row.attrs = tokens[t].attrs;
      const std::size_t row_end = scan::element_end(tokens, t);
      for (std::size_t c = t + 1; c < row_end; ++c)
        if (tokens[c].kind == Token::Kind::open && (tokens[c].name == "td" || tokens[c].name == "th"))
          row.cells.push_back(scan::text_of(tokens, c, scan::element_end(tokens, c)));
      out[study].push_back(row);
    }
  }
  return out;
}

struct Page {
  std::string html;
  std::vector<Token> tokens;
};

Page write_and_scan(const ReportOptions& options) {
  write_report(options);
  Page p;
  p.html = read_text(options.output);
  p.tokens = scan::scan(p.html);
  return p;
}

const fx::StudySpec& spec_of(const std::string& key) {
  static const fx::StudySpec sr = fx::sr_pairs_spec(), wf = fx::workflow_spec();
  return key == "sr_pairs" ? sr : wf;
}

// ---- the page ------------------------------------------------------------------------------------

TEST(Report, EveryReferencedFileExistsBesideThePage) {
  ReportFolder f;
  ReportOptions options = f.options();
  const std::string overlay = f.root + "/field 000_overlay.png";
  write_png(overlay, fx::test_picture(64, 48));
  options.overlays = {overlay};
  const Page p = write_and_scan(options);

  std::size_t images = 0, links = 0;
  for (const Token& t : p.tokens) {
    if (t.kind != Token::Kind::open && t.kind != Token::Kind::self_closed) continue;
    EXPECT_NE(t.name, "script") << "the page must run no scripts";
    EXPECT_NE(t.name, "link") << "the page must load no stylesheet";
    for (const char* key : {"src", "href"}) {
      const std::string url = t.attr(key);
      if (url.empty() || url[0] == '#') continue;
      EXPECT_EQ(url.find(':'), std::string::npos) << "not a relative URL: " << url;
      EXPECT_NE(url[0], '/') << "not a relative URL: " << url;
      // Percent-decoding gives the file's path relative to the page.
      std::string path;
      for (std::size_t i = 0; i < url.size(); ++i)
        if (url[i] == '%')
          path += char(std::stoi(url.substr(i + 1, 2), nullptr, 16)), i += 2;
        else
          path += url[i];
      EXPECT_TRUE(fs::is_regular_file(fs::path(f.page).parent_path() / path)) << key << "=" << url;
      (t.name == "img" ? images : links) += 1;
    }
  }
  EXPECT_EQ(images, 3u) << "two grids and one overlay";
  EXPECT_EQ(links, 3u) << "each image links to itself at full size";
  // The grid with '#' and a space in its name is encoded, not cut at the '#'.
  EXPECT_NE(p.html.find("report_files/sr_pairs/grids/field_000_10x%20%230.png"), std::string::npos);
  EXPECT_EQ(p.html.find("http://"), p.html.find("http://www.w3.org/2000/svg")) << "no URL but the SVG namespace";
  EXPECT_EQ(p.html.find("https://"), std::string::npos);
}

TEST(Report, TableNumbersAreTheStatisticsOfTheCsv) {
  ReportFolder f;
  const Page p = write_and_scan(f.options());
  const std::map<std::string, std::string> folders = {{"sr_pairs", f.sr_pairs}, {"workflow_only", f.workflow}};

  const auto summaries = table_rows(p.tokens, "summary");
  ASSERT_EQ(summaries.size(), 2u);
  for (const auto& [study, rows] : summaries) {
    const fx::StudySpec& spec = spec_of(study);
    const Values values = values_from_csv(folders.at(study));
    ASSERT_EQ(rows.size(), spec.methods.size() * spec.metrics.size()) << study;
    std::set<std::pair<std::string, std::string>> seen;
    for (const Row& row : rows) {
      const std::string method = row.attrs.at("data-method"), metric = row.attrs.at("data-metric");
      seen.insert({method, metric});
      const std::string what = study + "/" + method + "/" + metric;
      const auto& by_image = values.at({method, metric});
      const Summary expected = summarize(series(by_image));
      ASSERT_EQ(row.cells.size(), 6u) << what;
      EXPECT_EQ(row.cells[0], method) << what;
      expect_shows(row.cells[2], expected.mean, what + " mean");
      expect_shows(row.cells[3], expected.median, what + " median");
      const auto [low, high] = interval_parts(row.cells[4]);
      expect_shows(low, expected.mean_interval.low, what + " low");
      expect_shows(high, expected.mean_interval.high, what + " high");
      EXPECT_EQ(row.cells[5], std::to_string(by_image.size())) << what;
      EXPECT_GE(parse_shown(row.cells[2]).decimals, 2) << what << ": too coarse to compare methods";
    }
    EXPECT_EQ(seen.size(), rows.size()) << study << ": a row twice";
  }

  const auto comparisons = table_rows(p.tokens, "comparisons");
  ASSERT_EQ(comparisons.size(), 2u);
  for (const auto& [study, rows] : comparisons) {
    const fx::StudySpec& spec = spec_of(study);
    const Values values = values_from_csv(folders.at(study));
    ASSERT_EQ(rows.size(), spec.compare.size() * spec.metrics.size()) << study;
    for (const Row& row : rows) {
      const std::string first = row.attrs.at("data-first"), second = row.attrs.at("data-second"),
                        metric = row.attrs.at("data-metric");
      const std::string what = study + "/" + second + "-" + first + "/" + metric;
      const auto& a = values.at({first, metric});
      const auto& b = values.at({second, metric});
      std::vector<double> x, y;
      for (const auto& [image, value] : a)
        if (b.count(image)) x.push_back(value), y.push_back(b.at(image));
      const PairedComparison c = compare_paired(x, y);
      ASSERT_EQ(row.cells.size(), 8u) << what;
      EXPECT_EQ(row.cells[0], first) << what;
      EXPECT_EQ(row.cells[1], second) << what;
      expect_shows(row.cells[3], c.mean_difference, what + " mean difference");
      const auto [low, high] = interval_parts(row.cells[4]);
      expect_shows(low, c.difference_interval.low, what + " low");
      expect_shows(high, c.difference_interval.high, what + " high");
      const std::string winner = c.winner == Winner::first ? first : c.winner == Winner::second ? second : "tie";
      EXPECT_EQ(row.cells[5], winner) << what;
      expect_shows(row.cells[6], c.certainty, what + " certainty", 100);
      EXPECT_EQ(row.cells[7], std::to_string(x.size())) << what;
    }
  }

  // The header's cards show the same means and intervals.
  const auto headlines = table_rows(p.tokens, "headline");
  ASSERT_EQ(headlines.size(), 2u);
  for (const auto& [study, rows] : headlines) {
    const fx::StudySpec& spec = spec_of(study);
    const Values values = values_from_csv(folders.at(study));
    ASSERT_EQ(rows.size(), spec.methods.size()) << study;
    for (const Row& row : rows) {
      const std::string method = row.attrs.at("data-method");
      ASSERT_EQ(row.cells.size(), 1 + spec.metrics.size());
      for (std::size_t m = 0; m < spec.metrics.size(); ++m) {
        const Summary expected = summarize(series(values.at({method, spec.metrics[m]})));
        const std::string cell = row.cells[1 + m], what = study + "/" + method + "/" + spec.metrics[m] + " card";
        const std::size_t bracket = cell.find('[');
        ASSERT_NE(bracket, std::string::npos) << what << ": " << cell;
        expect_shows(cell.substr(0, bracket), expected.mean, what);
        const auto [low, high] = interval_parts(cell.substr(bracket));
        expect_shows(low, expected.mean_interval.low, what + " low");
        expect_shows(high, expected.mean_interval.high, what + " high");
      }
    }
  }
}

TEST(Report, SvgsAreWellFormedWithOneBarPerMethodAndMetric) {
  ReportFolder f;
  const Page p = write_and_scan(f.options());
  ASSERT_EQ(scan::nesting_error(p.tokens, 0, p.tokens.size(), false), "") << "the page's elements do not nest";

  std::size_t bar_charts = 0, scatters = 0;
  for (std::size_t k = 0; k < p.tokens.size(); ++k) {
    if (p.tokens[k].kind != Token::Kind::open || p.tokens[k].name != "svg") continue;
    const std::size_t end = scan::element_end(p.tokens, k);
    EXPECT_EQ(scan::nesting_error(p.tokens, k, end, true), "") << "svg at byte " << p.tokens[k].offset;
    EXPECT_EQ(p.tokens[k].attr("xmlns"), "http://www.w3.org/2000/svg");
    EXPECT_FALSE(p.tokens[k].attr("viewBox").empty());
    EXPECT_EQ(p.tokens[k].attr("width"), "") << "sizes are viewBox units only";
    EXPECT_EQ(p.tokens[k + 2].name, "title") << "an accessible title first";
    std::map<std::string, std::set<std::string>> bars;  // group → series
    std::size_t points = 0, bar_rects = 0;
    for (std::size_t t = k; t < end; ++t) {
      const Token& tok = p.tokens[t];
      if (tok.kind == Token::Kind::close) continue;
      if (tok.name == "rect" && tok.has_class("bar")) {
        bars[tok.attr("data-group")].insert(tok.attr("data-series"));
        ++bar_rects;
        EXPECT_GE(std::stod(tok.attr("height")), 0.0);
      }
      points += tok.name == "circle" && tok.has_class("point");
    }
    if (bar_rects) {
      ++bar_charts;
      // The first bar chart is sr_pairs' (3 methods × psnr, ssim), the second the workflow's.
      const fx::StudySpec& spec = bar_charts == 1 ? fx::sr_pairs_spec() : fx::workflow_spec();
      EXPECT_EQ(bar_rects, spec.methods.size() * spec.metrics.size());
      ASSERT_EQ(bars.size(), spec.metrics.size());
      for (const auto& [group, methods] : bars)
        EXPECT_EQ(methods, std::set<std::string>(spec.methods.begin(), spec.methods.end())) << group;
    }
    if (points) {
      ++scatters;
      EXPECT_TRUE(points == 11 || points == 12 || points == 9) << points << " points";  // one bicubic PSNR is ∞
    }
  }
  EXPECT_EQ(bar_charts, 2u);
  EXPECT_EQ(scatters, 2u * 2 + 2u * 2) << "one scatter plot per comparison and metric";
}

TEST(Report, TextFromTheFilesIsEscaped) {
  ReportFolder f;
  const Page p = write_and_scan(f.options());
  // Raw markup from the files never reaches the page as markup...
  EXPECT_EQ(p.html.find("<script"), std::string::npos);
  EXPECT_EQ(p.html.find("<margin>"), std::string::npos);
  EXPECT_EQ(p.html.find("<10X>"), std::string::npos);
  EXPECT_EQ(p.html.find("<test>"), std::string::npos);
  // ...but as the text it was.
  EXPECT_NE(p.html.find("&lt;script&gt;alert(&#39;notes&#39;)&lt;/script&gt; are text &amp; stay text"),
            std::string::npos);
  EXPECT_NE(p.html.find("<title>Report &lt;test&gt; &amp; &quot;quotes&quot;</title>"), std::string::npos);
  bool label_seen = false, image_seen = false;
  for (const Token& t : p.tokens) {
    label_seen = label_seen || (t.kind == Token::Kind::text && t.text.find("m2 <margin> & 'ctx'") != std::string::npos);
    image_seen = image_seen || t.attr("data-series") == "m2 <margin> & 'ctx'";
    if (t.kind == Token::Kind::text) {
      EXPECT_TRUE(scan::entities_well_formed(t.raw)) << t.raw;
    }
  }
  EXPECT_TRUE(label_seen) << "the method label, decoded, is text on the page";
  EXPECT_TRUE(image_seen) << "the method label, decoded, is a bar's data-series";
  // An image name with a comma (quoted in the CSV) reads back whole, in a scatter point's tooltip.
  EXPECT_NE(p.html.find("<title>frame,a#0: method2 "), std::string::npos);
}

TEST(Report, MissingOrBadSummaryJsonIsAnErrorNamingIt) {
  ReportFolder f;
  const std::string empty = f.root + "/empty";
  fs::create_directories(empty);
  ReportOptions options = f.options();
  options.evaluations = {empty};
  testing::expect_error([&] { write_report(options); }, empty + "/summary.json: no such file");

  // A known study folder without its summary (evaluate cut short).
  fs::create_directories(f.eval + "/truth");
  options.evaluations = {f.eval};
  testing::expect_error([&] { write_report(options); }, f.eval + "/truth/summary.json: no such file");
  fs::remove_all(f.eval + "/truth");

  const std::string summary = f.sr_pairs + "/summary.json";
  const std::string good = read_text(summary);
  auto with_summary = [&](const std::string& text, const std::string& needle) {
    std::ofstream(summary, std::ios::binary | std::ios::trunc) << text;
    testing::expect_error([&] { write_report(options); }, needle);
  };
  with_summary(good.substr(0, good.size() / 2), summary + ": invalid JSON at byte");
  std::string no_mean = good;
  no_mean.replace(no_mean.find("\"mean\":"), 7, "\"avg\":");
  with_summary(no_mean, summary + ": summary[0].mean is missing");
  std::string stranger = good;
  stranger.replace(stranger.find("\"method\": \"bicubic\""), 19, "\"method\": \"nobody\"");
  with_summary(stranger, summary + ": summary[0].method 'nobody' is not among \"methods\"");
  std::string escaping = good;
  escaping.replace(escaping.find("grids/field_001_10x_1.png"), 25, "../../etc/passwd");
  with_summary(escaping, summary + ": grids[1].file '../../etc/passwd' is not a path inside the study folder");
  std::ofstream(summary, std::ios::binary | std::ios::trunc) << good;

  fs::remove(f.sr_pairs + "/detailed_metrics.csv");
  testing::expect_error([&] { write_report(options); }, f.sr_pairs + "/detailed_metrics.csv: no such file");
  EXPECT_FALSE(fs::exists(f.page)) << "nothing is written when an input is bad";
  EXPECT_FALSE(fs::exists(report_files_folder(f.page)));
}

// The exit status of `microsr ARGS`, and what it printed on stderr.
int run_program(const std::string& args, std::string* errors = nullptr) {
  const std::string err = microsr::testing::temp_path("report_stderr.txt");
  const std::string command = "'" + std::string(MICROSR_PROGRAM) + "' " + args + " >/dev/null 2>'" + err + "'";
  const int raw = std::system(command.c_str());
  if (errors) *errors = read_text(err);
  fs::remove(err);
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

TEST(ReportCli, ExitStatusFollowsTheContract) {
  ReportFolder f;
  const std::string q = "'" + f.page + "'";
  EXPECT_EQ(run_program("report --help"), 0);
  EXPECT_EQ(run_program("report --eval '" + f.eval + "'"), 2) << "no -o";
  EXPECT_EQ(run_program("report -o '" + f.root + "/out/report.txt' --eval '" + f.eval + "'"), 2) << "not .html";
  EXPECT_EQ(run_program("report -o " + q), 2) << "nothing to report";
  EXPECT_EQ(run_program("report -o " + q + " '" + f.eval + "'"), 2) << "a folder without --eval";
  EXPECT_EQ(run_program("report -o " + q + " --eval '" + f.eval + "' --bogus"), 2);
  EXPECT_FALSE(fs::exists(fs::path(f.page).parent_path())) << "a usage error wrote something";

  std::string errors;
  fs::create_directories(f.root + "/empty");
  EXPECT_EQ(run_program("report -o " + q + " --eval '" + f.root + "/empty'", &errors), 1);
  EXPECT_NE(errors.find(f.root + "/empty/summary.json: no such file"), std::string::npos) << errors;
  EXPECT_EQ(run_program("report -o " + q + " --eval '" + f.eval + "' --training '" + f.root + "/none.csv'", &errors),
            1);
  EXPECT_NE(errors.find(f.root + "/none.csv: no such file"), std::string::npos) << errors;

  EXPECT_EQ(run_program("report -o " + q + " --eval '" + f.eval + "' --eval '" + f.workflow + "' --title 'A & B'"), 0);
  const std::string html = read_text(f.page);
  EXPECT_NE(html.find("<h1>A &amp; B</h1>"), std::string::npos);
  EXPECT_NE(html.find("id=\"study-workflow_only\""), std::string::npos) << "both --eval folders are on the page";
  EXPECT_NE(html.find("id=\"study-sr_pairs\""), std::string::npos);
}

TEST(Report, TrainingCurveSettingsAndDeterminism) {
  ReportFolder f;
  ReportOptions options = f.options();
  options.training_csv = f.write_training_log(
      "epoch,lr,mean_loss,val_l1,val_psnr,val_ssim,ema_val_l1,ema_val_psnr,ema_val_ssim,seconds\n"
      "0,0.0001,nan,0.031,30.31,0.8123,0.031,30.31,0.8123,0.0\n"
      "1,0.0001,0.0412345,0.025,33.52,0.8611,0.028,31.95,0.8402,61.3\n"
      "2,0.0001,0.0361000,0.022,35.07,0.8799,0.026,33.10,0.8500,60.9\n");
  const std::string run_json = f.root + "/run.json";
  std::ofstream(run_json) << R"({"version": "0.1.0", "stages": {"finetune": {"seconds": 122.2}}, "args": ["a", "b"]})";
  options.settings_json = run_json;
  const Page p = write_and_scan(options);

  std::size_t lines = 0;
  std::set<std::string> line_series;
  for (const Token& t : p.tokens)
    if (t.name == "polyline" && t.has_class("series")) ++lines;
  for (const Token& t : p.tokens)
    if (t.kind == Token::Kind::open && t.name == "g" && t.has_class("line")) line_series.insert(t.attr("data-series"));
  EXPECT_EQ(lines, 3u) << "the loss (epochs 1-2; epoch 0 has none) and two validation curves";
  EXPECT_EQ(line_series, (std::set<std::string>{"mean training loss (L1)", "params", "params_ema"}));
  EXPECT_NE(p.html.find("2 epochs (a short run)"), std::string::npos);
  EXPECT_NE(p.html.find("30.31 dB before training \xE2\x86\x92 <strong>35.07 dB</strong> after epoch 2 (+4.76 dB)"),
            std::string::npos);

  // Run settings, flattened; a study's settings.
  EXPECT_NE(p.html.find("<code>stages.finetune.seconds</code></th><td>122.2</td>"), std::string::npos);
  EXPECT_NE(p.html.find("<code>args</code></th><td>a, b</td>"), std::string::npos);
  EXPECT_NE(p.html.find("<code>weights</code></th><td>params_ema</td>"), std::string::npos);
  // The truth and cross-magnification studies are said to be absent; the workflow is not.
  EXPECT_NE(p.html.find("not run: truth, cross_mag"), std::string::npos);

  // The same inputs give the same bytes.
  write_report(options);
  EXPECT_EQ(read_text(f.page), p.html);

  // A log from before the EMA columns, without validation: one curve, and a note.
  options.training_csv = f.write_training_log(
      "epoch,lr,mean_loss,val_l1,val_psnr,val_ssim,seconds\n"
      "0,0.0001,nan,,,,0.0\n1,0.0001,0.04,,,,60\n");
  const Page old = write_and_scan(options);
  EXPECT_NE(old.html.find("finetune ran without a validation set"), std::string::npos);
}

TEST(Report, NotesLeftOutValuesAndInconsistenciesAreShown) {
  ReportFolder f;
  const Page p = write_and_scan(f.options());
  EXPECT_NE(p.html.find("bicubic, PSNR: 1 value was not finite"), std::string::npos);
  EXPECT_NE(p.html.find("a short run, not the seed&#39;s 50"), std::string::npos) << "the study's notes";
  EXPECT_EQ(p.html.find("class=\"warning\""), std::string::npos) << "consistent files give no warning";

  // A summary that disagrees with its CSV is shown with a warning.
  std::ofstream(f.sr_pairs + "/detailed_metrics.csv", std::ios::app) << "extra_image,pretrained,20,0.5\n";
  const Page warned = write_and_scan(f.options());
  EXPECT_NE(warned.html.find("summary.json counts 12 values of psnr for pretrained, detailed_metrics.csv has 13."),
            std::string::npos);

  // A grid that summary.json lists but that is missing costs one figure and a warning.
  fs::remove(f.sr_pairs + "/grids/field_001_10x_1.png");
  const Page one_grid = write_and_scan(f.options());
  EXPECT_NE(one_grid.html.find("summary.json lists the grid grids/field_001_10x_1.png, which is missing"),
            std::string::npos);
  std::size_t images = 0;
  for (const Token& t : one_grid.tokens) images += t.name == "img";
  EXPECT_EQ(images, 1u);
}

// ---- the pieces ----------------------------------------------------------------------------------

TEST(ReportAxis, TicksAreRoundAndCoverTheData) {
  using report::nice_axis;
  EXPECT_EQ(nice_axis(0, 1).ticks, (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  const report::Axis psnr = nice_axis(17.3, 25.8);
  EXPECT_EQ(psnr.ticks, (std::vector<double>{16, 18, 20, 22, 24, 26}));
  EXPECT_EQ(psnr.decimals, 0);
  const report::Axis ssim = nice_axis(0.479, 0.787);
  EXPECT_DOUBLE_EQ(ssim.low, 0.4);
  EXPECT_DOUBLE_EQ(ssim.high, 0.8);
  EXPECT_EQ(ssim.decimals, 1);
  EXPECT_EQ(nice_axis(0, 3, 6, true).ticks, (std::vector<double>{0, 1, 2, 3}));
  EXPECT_EQ(nice_axis(0, 1, 6, true).ticks, (std::vector<double>{0, 1})) << "no half epochs";
  const report::Axis flat = nice_axis(5, 5);
  EXPECT_LE(flat.low, 4.5);
  EXPECT_GE(flat.high, 5.5);
  EXPECT_EQ(nice_axis(-0.3, 0.3).decimals, 1);
  EXPECT_EQ(nice_axis(NAN, 1).ticks.front(), 0);
}

TEST(ReportText, EscapingUrlsAndNumbers) {
  using namespace report;
  EXPECT_EQ(escape_markup("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  EXPECT_EQ(escape_markup(std::string("x\x01y\tz", 5)), "xy\tz") << "control characters are dropped";
  EXPECT_EQ(escape_markup("\xC3\xA9\xE2\x88\x92"), "\xC3\xA9\xE2\x88\x92") << "UTF-8 passes";
  EXPECT_EQ(escape_markup("a\xFF"
                          "b\xC3"),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD")
      << "invalid UTF-8 is replaced";
  EXPECT_EQ(url_path("grids/a #1?.png"), "grids/a%20%231%3F.png");
  EXPECT_EQ(fixed(30.256, 2), "30.26");
  EXPECT_EQ(fixed(-0.001, 2), "0.00") << "no negative zero";
  EXPECT_EQ(fixed(-1.25, 1),
            "\xE2\x88\x92"
            "1.2")
      << "a true minus (and %.1f's rounding)";
  EXPECT_EQ(signed_fixed(6.8049, 2), "+6.80");
  EXPECT_EQ(signed_fixed(0.0004, 2), "0.00");
  EXPECT_EQ(percent(0.973), "97.3%");
  EXPECT_EQ(fixed(NAN, 2), "\xE2\x80\x94");
  EXPECT_EQ(decimals_for(30.26), 2);
  EXPECT_EQ(decimals_for(0.92), 4);
  EXPECT_EQ(decimals_for(6.54), 3);
  EXPECT_EQ(decimals_for(1234), 0);
  EXPECT_EQ(svg_number(12.5), "12.5");
  EXPECT_EQ(svg_number(-0.001), "0");
}

TEST(ReportCharts, BarChartDrawsEachPresentValueAndSaysWhenZeroIsLeftOut) {
  report::BarChart chart;
  chart.id = "c";
  chart.title = "t";
  chart.series = {"a", "b <&>"};
  chart.groups = {{"PSNR (dB)", 2, {report::BarValue{30.2, 29.9, 30.5}, report::BarValue{30.9, 30.6, 31.2}}},
                  {"Δ", 3, {report::BarValue{-0.5, -0.9, 0.1}, std::nullopt}}};
  const std::string svg = report::render_bar_chart(chart);
  const std::vector<Token> tokens = scan::scan(svg);
  EXPECT_EQ(scan::nesting_error(tokens, 0, tokens.size(), true), "");
  std::size_t bars = 0;
  for (const Token& t : tokens) bars += t.name == "rect" && t.has_class("bar");
  EXPECT_EQ(bars, 3u) << "the absent value has no bar";
  EXPECT_NE(svg.find(">n/a</text>"), std::string::npos);
  EXPECT_NE(svg.find("The PSNR (dB) axis starts at"), std::string::npos);
  EXPECT_EQ(svg.find("The Δ axis starts at"), std::string::npos) << "values on both sides of 0 keep 0";
  EXPECT_EQ(report::render_bar_chart(chart), svg) << "deterministic";
}

TEST(ReportCharts, ScatterAndLineChartsSkipAbsentValues) {
  report::ScatterPlot plot;
  plot.id = "s";
  plot.points = {{1, 2, "a"}, {NAN, 1, "b"}, {3, INFINITY, "c"}, {2, 2, "d"}};
  const std::string svg = report::render_scatter_plot(plot);
  const std::vector<Token> tokens = scan::scan(svg);
  EXPECT_EQ(scan::nesting_error(tokens, 0, tokens.size(), true), "");
  std::size_t points = 0, diagonals = 0;
  for (const Token& t : tokens) {
    points += t.name == "circle" && t.has_class("point");
    diagonals += t.name == "line" && t.has_class("diagonal");
  }
  EXPECT_EQ(points, 2u);
  EXPECT_EQ(diagonals, 1u);

  report::LineChart chart;
  chart.id = "l";
  chart.series = {{"x", "", {0, 1, 2, 3, 4}, {NAN, 1, 2, NAN, 3}, false}};
  const std::string lines = report::render_line_chart(chart);
  std::size_t polylines = 0, dots = 0;
  for (const Token& t : scan::scan(lines)) {
    polylines += t.name == "polyline";
    dots += t.name == "circle" && t.kind != Token::Kind::close;
  }
  EXPECT_EQ(polylines, 1u) << "epochs 1-2 joined; epoch 4 alone (a gap before it)";
  EXPECT_EQ(dots, 3u);
}

// Not a check: writes a sample report for tools/screenshot_report.sh when
// MICROSR_REPORT_SAMPLE_DIR names a folder (and into a scratch folder otherwise, then removed).
TEST(ReportSample, WritesASampleReport) {
  const char* env = std::getenv("MICROSR_REPORT_SAMPLE_DIR");
  ReportFolder f;
  const std::string out = env && *env ? std::string(env) : f.root + "/sample";
  fs::create_directories(out);
  ReportOptions options = f.options();
  options.title = "Microdisk super-resolution: sample report";
  options.output = out + "/report.html";
  options.training_csv = f.write_training_log(
      "epoch,lr,mean_loss,val_l1,val_psnr,val_ssim,ema_val_l1,ema_val_psnr,ema_val_ssim,seconds\n"
      "0,0.0001,nan,0.031,30.31,0.8123,0.031,30.31,0.8123,0.0\n"
      "1,0.0001,0.0412345,0.025,33.52,0.8611,0.028,31.95,0.8402,61.3\n"
      "2,0.0001,0.0361000,0.022,35.07,0.8799,0.026,33.10,0.8500,60.9\n"
      "3,0.0001,0.0342000,0.021,35.61,0.8840,0.024,34.20,0.8610,61.0\n");
  const std::string overlay = f.root + "/field_000_10x_overlay.png";
  write_png(overlay, fx::test_picture(320, 240));
  options.overlays = {overlay};
  options.settings_json = f.root + "/run.json";
  std::ofstream(options.settings_json)
      << R"({"version": "0.1.0", "preset": "cpu-small", "stages": {"finetune": {"seconds": 183.1}}})";
  const ReportWritten written = write_report(options);
  EXPECT_EQ(written.studies, 2u);
  EXPECT_EQ(written.images, 3u);
}

}  // namespace
}  // namespace microsr
