#pragma once
namespace microsr::cli {
// Each takes the arguments after the subcommand's name and returns the process exit code.
int run_upscale(int argc, char** argv);
int run_info(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_synth(int argc, char** argv);
int run_detect(int argc, char** argv);
int run_make_pairs(int argc, char** argv);
int run_finetune(int argc, char** argv);
int run_report(int argc, char** argv);

class Args;
// `microsr bench --mode train` (src/cli/bench_train.cpp), called by run_bench.
int run_bench_train(const Args& args);
}  // namespace microsr::cli
