// The pipeline's report stage. TEMPORARY: lists the studies until `microsr report` lands.
#include <cstdio>

#include "subcommands.h"

namespace microsr::cli {

int write_pipeline_report(const std::string& run_dir) {
  std::fprintf(stderr, "report: the studies are in %s/evaluate/\n", run_dir.c_str());
  return 0;
}

}  // namespace microsr::cli
