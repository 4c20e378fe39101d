// write_report(): read every input, copy the images beside the page, then write the page.
#include "microsr/report.h"

#include <filesystem>
#include <set>

#include "io/file_bytes.h"
#include "microsr/error.h"
#include "report/markup.h"
#include "report/report_page.h"

namespace fs = std::filesystem;

namespace microsr {

namespace {

using report::ImageOnPage;
using report::ReportPage;
using report::StudyOnPage;

// A name usable as a folder name and an HTML id: letters, digits, '-' and '_' kept, others '_'.
std::string safe_key(const std::string& name) {
  std::string key;
  for (const char c : name) key += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_';
  return key.empty() ? "study" : key;
}

// `wanted`, or wanted-2, wanted-3, … : the first not in `taken` (which then holds it).
std::string unique_name(const std::string& wanted, std::set<std::string>& taken, const std::string& extension = "") {
  std::string name = wanted + extension;
  for (int k = 2; !taken.insert(name).second; ++k) name = wanted + "-" + std::to_string(k) + extension;
  return name;
}

// A copy that is either complete or absent, as every file we write.
void copy_atomically(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  require(fs::is_directory(to.parent_path()),
          "cannot create " + to.parent_path().string() + (ec ? ": " + ec.message() : ""));
  io::replace_file_atomically(
      to.string(), [&](const std::string& temp) { fs::copy_file(from, temp, fs::copy_options::overwrite_existing); });
}

struct Copy {
  fs::path from, to;
};

}  // namespace

std::string report_files_folder(const std::string& page) {
  const fs::path p(page);
  return (p.parent_path() / (p.stem().string() + "_files")).string();
}

ReportWritten write_report(const ReportOptions& options) {
  require(!options.output.empty(), "report: no output page given");
  const fs::path page_path(options.output);
  const std::string files_name = page_path.stem().string() + "_files";
  const fs::path files_folder = report_files_folder(options.output);

  ReportPage page;
  page.title = options.title.empty() ? "microsr report" : options.title;
  std::vector<Copy> copies;

  // Read everything first: a bad input stops the report before anything is written.
  std::set<std::string> keys = {"overlays"};  // NAME_files/overlays/ holds the overlays
  for (const std::string& eval : options.evaluations) {
    std::vector<std::string> absent;
    const std::vector<std::string> folders = report::find_study_folders(eval, &absent);
    for (const std::string& a : absent)
      if (std::find(page.absent_studies.begin(), page.absent_studies.end(), a) == page.absent_studies.end())
        page.absent_studies.push_back(a);
    for (const std::string& folder : folders) {
      StudyOnPage study;
      study.data = report::read_study_folder(folder);
      const std::string name = fs::path(folder).lexically_normal().filename().string();
      study.key = unique_name(safe_key(name.empty() || name == "." ? study.data.study : name), keys);
      for (const report::GridEntry& grid : study.data.grids) {
        const fs::path relative = fs::path(study.key) / fs::path(grid.file).lexically_normal();
        copies.push_back({fs::path(folder) / grid.file, files_folder / relative});
        study.grid_urls.push_back(report::url_path(files_name + "/" + relative.generic_string()));
      }
      page.studies.push_back(std::move(study));
    }
  }
  // Studies found elsewhere are not absent after all.
  std::erase_if(page.absent_studies, [&](const std::string& a) {
    return std::any_of(page.studies.begin(), page.studies.end(),
                       [&](const StudyOnPage& s) { return s.data.study == a; });
  });
  if (!options.training_csv.empty()) page.training = report::read_epochs_csv(options.training_csv);
  std::set<std::string> overlay_names;
  for (const std::string& overlay : options.overlays) {
    require(fs::is_regular_file(overlay), overlay + ": no such file (given with --overlay)");
    const fs::path source(overlay);
    const std::string name = unique_name(source.stem().string(), overlay_names, source.extension().string());
    copies.push_back({source, files_folder / "overlays" / name});
    page.overlays.push_back({source.filename().string(), report::url_path(files_name + "/overlays/" + name)});
  }
  if (!options.settings_json.empty()) {
    page.run_settings = report::read_settings_file(options.settings_json);
    page.run_settings_file = options.settings_json;
  }
  if (!copies.empty()) page.files_folder = files_name;
  const std::string html = report::render_report_html(page);

  // Then write: the images, and the page last.
  if (!page_path.parent_path().empty()) {
    std::error_code ec;
    fs::create_directories(page_path.parent_path(), ec);
    require(fs::is_directory(page_path.parent_path()),
            "cannot create " + page_path.parent_path().string() + (ec ? ": " + ec.message() : ""));
  }
  for (const Copy& c : copies) copy_atomically(c.from, c.to);
  io::write_text_atomically(options.output, html);

  ReportWritten written;
  written.page = options.output;
  written.files_folder = copies.empty() ? "" : files_folder.string();
  written.studies = page.studies.size();
  written.images = copies.size();
  return written;
}

}  // namespace microsr
