#!/usr/bin/env bash
# Formats every C++/CUDA source of ours with clang-format and the repository's .clang-format
# (Google style, 120 columns: the style the tree was written in).
#   tools/format.sh           rewrite the files in place
#   tools/format.sh --check   list the files that are not formatted; exit 1 if there are any
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v clang-format >/dev/null || { echo "format: clang-format is missing (apt install clang-format)" >&2; exit 2; }
mapfile -d '' files < <(find src include kernels tests bench \
  \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) -print0 | sort -z)
if [ "${1:-}" = "--check" ]; then
  unformatted=0
  for f in "${files[@]}"; do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then echo "$f"; unformatted=1; fi
  done
  exit "$unformatted"
fi
clang-format -i "${files[@]}"
echo "format: ${#files[@]} files formatted"
