#!/usr/bin/env bash
# Prints one sha256 over every file the C++/CUDA build reads (CMakeLists.txt, src, kernels, include,
# tests, bench, third_party): path and contents, in a fixed order. tools/gpu_prepare.sh stamps the
# prebuilt binaries with it, and tools/gpu_check.sh compares it on the GPU machine, where there is no
# git: binaries built from other sources than the tree that travelled are not used.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
find CMakeLists.txt src kernels include tests bench third_party -type f \
     ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 2>/dev/null |
  LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
