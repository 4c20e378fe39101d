#pragma once
#include <string>
namespace microsr::cli {
// Each takes the arguments after the subcommand's name and returns the process exit code.
int run_upscale(int argc, char** argv);
int run_info(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_synth(int argc, char** argv);
int run_detect(int argc, char** argv);
int run_make_pairs(int argc, char** argv);
int run_finetune(int argc, char** argv);
int run_evaluate(int argc, char** argv);
int run_pipeline(int argc, char** argv);
int run_onnx(int argc, char** argv);
// The pipeline's last stage: RUN/report.html from RUN/evaluate/ and RUN/finetune/ (pipeline_report.cpp).
int write_pipeline_report(const std::string& run_dir);
int run_report(int argc, char** argv);

class Args;
// `microsr bench --mode train` (src/cli/bench_train.cpp), called by run_bench.
int run_bench_train(const Args& args);
}  // namespace microsr::cli
