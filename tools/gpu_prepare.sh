#!/usr/bin/env bash
# tools/gpu_check.sh --prepare: on a development machine with internet (Debian or Ubuntu, apt),
# assembles in gpu_kit/ (git-ignored) what a bare GPU machine lacks to build and check microsr:
#
#   src/googletest.tar.xz   Debian's googletest package (/usr/src/googletest), googletest part only
#   src/benchmark.tar.xz    Debian source package of Google Benchmark, Debian patches applied
#   src/tiff.tar.xz         Debian source package of libtiff, patched; tests and docs left out
#   src/zlib.tar.xz         Debian source package of zlib (libtiff's deflate codec needs it)
#   include/stb/            Debian's libstb-dev headers
#   models/                 realesrgan-x4plus.param/.bin (the ncnn fp16 pair: 33 MB; the 67 MB
#                           .pth would not fit the 64 MiB that a device call can carry)
#   prebuilt/               microsr, tests/microsr_tests, bench/bench_* built here for sm_90 (nvcc
#                           13 and cuDNN 9 are installed here) with the non-CUDA shared libraries
#                           they load in prebuilt/lib; BUILD_INFO stamps the sources they came from
#   MANIFEST.txt            what each piece is, its package version, size and sha256
#
# The prebuilt binaries spare the GPU machine its 3-4 minute build. The dependency sources stay as
# the fallback: where the binaries cannot run there (a missing library, other sources),
# tools/gpu_check.sh builds on the GPU machine, the dependencies it lacks included. Nothing is
# copied into git: the kit is ignored. Idempotent: pieces already in the kit are kept unless
# --force; --no-prebuilt leaves the binaries out. Prints the carry list and the total that will
# travel (working tree + kit) against the 64 MiB limit.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kit="${GPU_KIT:-$repo/gpu_kit}"
force=0 prebuilt_wanted=1
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    --no-prebuilt) prebuilt_wanted=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "gpu_prepare: unknown argument $a" >&2; exit 2 ;;
  esac
done
say() { echo "prepare: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$kit/src" "$kit/include" "$kit/models"
manifest=()

have() { [ "$force" = 0 ] && [ -s "$1" ]; }
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }

apt_options=(-q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$tmp/apt/parts"
             -o Dir::State::Lists="$tmp/apt/lists" -o Dir::Cache="$tmp/apt/cache"
             -o APT::Sandbox::User="$(id -un)")
# apt without touching the system: a private list directory, deb-src lines made from this
# machine's own deb lines (any Debian/Ubuntu release), and downloads into the current folder.
apt_private() {
  if [ ! -d "$tmp/apt" ]; then
    mkdir -p "$tmp/apt/lists/partial" "$tmp/apt/parts"
    local f n=0
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      n=$((n + 1))
      case "$f" in
        *.sources) sed -e 's/^Types:.*/Types: deb deb-src/' "$f" >"$tmp/apt/parts/$n.sources" ;;
        *) grep -E '^deb ' "$f" | sed -e 'p; s/^deb /deb-src /' >"$tmp/apt/parts/$n.list" || true ;;
      esac
    done
    mkdir -p "$tmp/apt/cache/archives/partial"
    apt-get "${apt_options[@]}" update >"$tmp/apt/update.log" 2>&1 ||
      { cat "$tmp/apt/update.log" >&2; die "apt-get update failed (no internet?)"; }
  fi
  apt-get "${apt_options[@]}" "$@"
}

# <package> <kit name> <paths to leave out, relative to the source top folder...>
kit_source_package() {
  local package="$1" name="$2"; shift 2
  local out="$kit/src/$name.tar.xz"
  if have "$out"; then say "have $out"; manifest+=("src/$name.tar.xz|$(cat "$out.source" 2>/dev/null)"); return; fi
  say "fetching the Debian source package $package"
  mkdir -p "$tmp/$name"
  if ! (cd "$tmp/$name" && apt_private source --download-only "$package" >"$tmp/$name.log" 2>&1); then
    # The newest version can be missing from the mirror (a security update whose source the
    # security mirror no longer serves answers 404): try each other published version, newest first.
    local version fetched=0
    for version in $(apt-cache "${apt_options[@]}" showsrc "$package" 2>/dev/null | awk '/^Version:/ {print $2}' | sort -ruV); do
      rm -f "$tmp/$name"/*
      say "$package: trying the published source $package=$version"
      if (cd "$tmp/$name" && apt_private source --download-only "$package=$version" >>"$tmp/$name.log" 2>&1); then
        fetched=1; break
      fi
    done
    [ "$fetched" = 1 ] || { cat "$tmp/$name.log" >&2; die "apt-get source $package failed for every published version"; }
  fi
  local dsc; dsc="$(ls "$tmp/$name"/*.dsc | head -n1)"
  if command -v dpkg-source >/dev/null; then
    (cd "$tmp/$name" && dpkg-source --no-check -x "$(basename "$dsc")" unpacked >/dev/null)
  else  # no dpkg-dev: the upstream tarball without Debian's patches
    mkdir -p "$tmp/$name/unpacked" && tar -xf "$(ls "$tmp/$name"/*.orig.tar.* | head -n1)" -C "$tmp/$name/unpacked" --strip-components=1
    say "dpkg-source is missing: $package without Debian's patches"
  fi
  local p; for p in debian .pc "$@"; do rm -rf "$tmp/$name/unpacked/${p:?}"; done
  mv "$tmp/$name/unpacked" "$tmp/$name/$name"
  tar -cJf "$out.tmp" -C "$tmp/$name" "$name" && mv "$out.tmp" "$out"
  echo "Debian source package $(basename "$dsc" .dsc)" >"$out.source"
  manifest+=("src/$name.tar.xz|$(cat "$out.source")")
}

# ---- GoogleTest: Debian's googletest package ships its sources in /usr/src/googletest ---------
out="$kit/src/googletest.tar.xz"
if have "$out"; then say "have $out"; manifest+=("src/googletest.tar.xz|$(cat "$out.source" 2>/dev/null)")
else
  src=/usr/src/googletest
  if [ ! -f "$src/CMakeLists.txt" ]; then
    (cd "$tmp" && apt_private download googletest >/dev/null) || die "apt-get download googletest failed"
    dpkg-deb -x "$tmp"/googletest_*.deb "$tmp/gt" && src="$tmp/gt/usr/src/googletest"
    version="$(dpkg-deb -f "$tmp"/googletest_*.deb Version)"
  else
    version="$(pkg_version googletest)"
  fi
  tar -cJf "$out.tmp" -C "$(dirname "$src")" --exclude=googlemock --exclude=docs --exclude=samples \
    --exclude=test --transform "s,^$(basename "$src"),googletest," "$(basename "$src")" && mv "$out.tmp" "$out"
  echo "Debian package googletest $version (/usr/src/googletest)" >"$out.source"
  manifest+=("src/googletest.tar.xz|$(cat "$out.source")")
fi

kit_source_package benchmark benchmark test docs
kit_source_package tiff tiff test doc contrib html man
kit_source_package zlib zlib contrib/ada contrib/dotzlib contrib/delphi contrib/pascal doc examples

# ---- stb headers (Debian libstb-dev) -------------------------------------------------------
if have "$kit/include/stb/stb_image.h"; then say "have $kit/include/stb"; manifest+=("include/stb|$(cat "$kit/include/stb.source" 2>/dev/null)")
else
  src=/usr/include/stb; version="$(pkg_version libstb-dev)"
  if [ ! -f "$src/stb_image.h" ]; then
    (cd "$tmp" && apt_private download libstb-dev >/dev/null) || die "apt-get download libstb-dev failed"
    dpkg-deb -x "$tmp"/libstb-dev_*.deb "$tmp/stb" && src="$tmp/stb/usr/include/stb"
    version="$(dpkg-deb -f "$tmp"/libstb-dev_*.deb Version)"
  fi
  # The two headers microsr includes (the package holds 2 MB of others).
  rm -rf "$kit/include/stb" && mkdir -p "$kit/include/stb" && cp "$src"/stb_image.h "$src"/stb_image_write.h "$kit/include/stb/"
  echo "Debian package libstb-dev $version" >"$kit/include/stb.source"
  manifest+=("include/stb|$(cat "$kit/include/stb.source")")
fi

# ---- the real weights: ncnn fp16 pair, verified ----------------------------------------------
bin_sha=713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf
model_src=""
for d in "${MICROSR_MODELS:-}" "$repo/models" "$repo/../shared/models" /work/shared/models; do
  [ -n "$d" ] && [ -s "$d/realesrgan-x4plus.param" ] && [ -s "$d/realesrgan-x4plus.bin" ] && { model_src="$d"; break; }
done
if [ -z "$model_src" ] && [ ! -s "$kit/models/realesrgan-x4plus.bin" ]; then
  say "no realesrgan-x4plus.param/.bin found; running tools/fetch_weights.sh"
  "$repo/tools/fetch_weights.sh" || true
  [ -s "$repo/models/realesrgan-x4plus.bin" ] && model_src="$repo/models"
fi
if [ -n "$model_src" ] && ! cmp -s "$model_src/realesrgan-x4plus.bin" "$kit/models/realesrgan-x4plus.bin" 2>/dev/null; then
  for f in realesrgan-x4plus.param realesrgan-x4plus.bin; do
    ln -f "$model_src/$f" "$kit/models/$f" 2>/dev/null || cp "$model_src/$f" "$kit/models/$f"
  done
fi
[ -s "$kit/models/realesrgan-x4plus.bin" ] ||
  die "the kit needs models/realesrgan-x4plus.param/.bin (ncnn, 33 MB); fetch them (tools/fetch_weights.sh) or set MICROSR_MODELS"
[ "$(sha256sum "$kit/models/realesrgan-x4plus.bin" | cut -d' ' -f1)" = "$bin_sha" ] ||
  die "$kit/models/realesrgan-x4plus.bin does not have the expected sha256 $bin_sha"
manifest+=("models|realesrgan-x4plus.param/.bin from ${model_src:-an earlier --prepare}, .bin sha256 verified")

# ---- prebuilt binaries: built here for the GPU's architecture, so the GPU minutes skip the build --
# nvcc 13 and cuDNN 9 are installed here, so microsr, its tests and its benchmarks are built here
# for sm_${archs} (no -march=native: the GPU machine's CPU is another one), with the shared
# libraries a bare GPU machine may lack (libtiff and its codecs, zlib, OpenMP, Google Benchmark)
# copied beside them and found through an RPATH of $ORIGIN/lib. CUDA's own libraries (cudart,
# cuBLAS, cuDNN) are not carried: the GPU machine has PyTorch's, and gpu_check.sh puts them on the
# library path. The stamp (tools/gpu_source_hash.sh) lets gpu_check.sh refuse binaries built from
# other sources than the tree that travelled; it then builds there instead.
prebuilt="$kit/prebuilt"
archs="${MICROSR_CUDA_ARCHS:-90}"
if [ "$prebuilt_wanted" = 1 ]; then
  pb_build="${GPU_PREBUILT_BUILD:-$repo/build_prebuilt}"
  source_hash="$("$repo/tools/gpu_source_hash.sh")"
  if [ "$force" = 0 ] && [ -f "$prebuilt/BUILD_INFO" ] && grep -qx "source_hash=$source_hash" "$prebuilt/BUILD_INFO"; then
    say "have $prebuilt (built from these sources)"
    # The same sources may since have been committed: name the commit they now are.
    if git -C "$repo" diff --quiet HEAD -- 2>/dev/null; then
      sed -i "s/^commit=.*/commit=$(git -C "$repo" rev-parse HEAD)/" "$prebuilt/BUILD_INFO"
    fi
  elif ! command -v nvcc >/dev/null && [ ! -x /usr/local/cuda/bin/nvcc ]; then
    say "no nvcc here: no prebuilt binaries (the GPU machine will build, ~3-4 minutes of its time)"
    rm -rf "$prebuilt"
  else
    if ! command -v patchelf >/dev/null; then
      say "installing patchelf (sets the carried binaries' library path)"
      sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
      { $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq \
          --no-install-recommends patchelf; } >"$tmp/patchelf.log" 2>&1 || { cat "$tmp/patchelf.log" >&2; die "could not install patchelf"; }
    fi
    say "building the CUDA binaries for sm_$archs in $pb_build (a few minutes on 2 cores)"
    generator=(); command -v ninja >/dev/null && [ ! -f "$pb_build/CMakeCache.txt" ] && generator=(-G Ninja)
    cmake -S "$repo" -B "$pb_build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DMICROSR_CUDA=ON -DMICROSR_NATIVE=OFF \
      -DMICROSR_CUDA_ARCHS="$archs" -DMICROSR_TESTS=ON -DMICROSR_BENCH=ON >"$tmp/pb_configure.log" 2>&1 ||
      { tail -n 30 "$tmp/pb_configure.log" >&2; die "configuring the prebuilt binaries failed"; }
    targets=(microsr_cli microsr_tests)
    for b in "$repo"/bench/bench_*.cpp; do targets+=("$(basename "$b" .cpp)"); done
    cmake --build "$pb_build" -j"$(nproc)" --target "${targets[@]}" >"$tmp/pb_build.log" 2>&1 ||
      { grep -m 20 -E 'error|Error' "$tmp/pb_build.log" >&2; die "building the prebuilt binaries failed"; }
    rm -rf "$prebuilt.tmp" && mkdir -p "$prebuilt.tmp/lib" "$prebuilt.tmp/tests" "$prebuilt.tmp/bench"
    cp "$pb_build/microsr" "$prebuilt.tmp/"
    cp "$pb_build/tests/microsr_tests" "$prebuilt.tmp/tests/"
    # Only the benchmarks with CUDA cases travel (tools/gpu_check_bench.sh runs nothing else on the
    # GPU machine), and every binary without its symbol table: the device call carries 64 MiB in all.
    for b in "${targets[@]}"; do
      case "$b" in bench_*)
        "$pb_build/bench/$b" --benchmark_list_tests 2>/dev/null | grep -qE '(cuda|Cuda|CUDA|gpu|Gpu|GPU)' &&
          cp "$pb_build/bench/$b" "$prebuilt.tmp/bench/" ;;
      esac
    done
    strip --strip-unneeded "$prebuilt.tmp"/microsr "$prebuilt.tmp"/tests/* "$prebuilt.tmp"/bench/*
    # Every shared library the binaries load, except the C/C++ runtime (a newer one is on any
    # machine that runs PyTorch) and CUDA's (PyTorch's pip wheels have them).
    for f in "$prebuilt.tmp"/microsr "$prebuilt.tmp"/tests/* "$prebuilt.tmp"/bench/*; do
      ldd "$f" | awk '$3 ~ /^\// {print $1, $3}'
    done | sort -u | while read -r name path; do
      case "$name" in
        linux-vdso*|ld-linux*|libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libgcc_s.so*|libstdc++.so*) ;;
        libcuda.so*|libcudart.so*|libcublas*|libcudnn*|libnvrtc*|libnvJitLink*) ;;
        *) cp -L "$path" "$prebuilt.tmp/lib/$name" ;;
      esac
    done
    for f in "$prebuilt.tmp"/microsr "$prebuilt.tmp"/tests/* "$prebuilt.tmp"/bench/*; do
      # DT_RPATH (not RUNPATH) also serves the libraries' own dependencies (libtiff's codecs).
      patchelf --force-rpath --set-rpath '$ORIGIN/lib:$ORIGIN/../lib' "$f"
    done
    for f in "$prebuilt.tmp"/lib/*; do patchelf --force-rpath --set-rpath '$ORIGIN' "$f"; done
    # The test binary is the largest (about 10 MiB stripped): it travels xz-compressed, and
    # tools/gpu_check.sh unpacks it before its first use.
    xz -6 "$prebuilt.tmp/tests/microsr_tests"
    cudnn_h="$(find /usr/local/cuda/include /usr/include /usr/local/include -maxdepth 2 -name cudnn_version.h 2>/dev/null | head -n1)"
    {
      echo "source_hash=$source_hash"
      echo "commit=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet HEAD -- 2>/dev/null || echo '+uncommitted')"
      echo "cuda_archs=$archs"
      echo "nvcc=$(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*, V[0-9.]*' || /usr/local/cuda/bin/nvcc --version | grep -o 'release [0-9.]*, V[0-9.]*')"
      echo "cudnn_headers=$(awk '/#define CUDNN_MAJOR /{a=$3} /#define CUDNN_MINOR /{b=$3} /#define CUDNN_PATCHLEVEL /{c=$3} END{print a"."b"."c}' "$cudnn_h" 2>/dev/null)"
      echo "built_on=$(. /etc/os-release && echo "$PRETTY_NAME"), $(c++ --version | head -n1)"
      echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    } >"$prebuilt.tmp/BUILD_INFO"
    rm -rf "$prebuilt" && mv "$prebuilt.tmp" "$prebuilt"
  fi
  [ -f "$prebuilt/BUILD_INFO" ] &&
    manifest+=("prebuilt|$(grep -E '^(commit|cuda_archs|nvcc|cudnn_headers)=' "$prebuilt/BUILD_INFO" | tr '\n' ' ')")
else
  rm -rf "$prebuilt"
fi

# ---- manifest, sizes, carry list ---------------------------------------------------------------
{
  echo "gpu_kit for tools/gpu_check.sh, made $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release && echo "$PRETTY_NAME")"
  for m in "${manifest[@]}"; do echo "  ${m%%|*}: ${m#*|}"; done
  echo
  (cd "$kit" && find . -type f ! -name MANIFEST.txt ! -name '*.source' -printf '%s %p\n' | sort -k2 | while read -r size path; do
    printf '%10d  %s  %s\n' "$size" "$(sha256sum "$path" | cut -c1-16)" "${path#./}"; done)
} >"$kit/MANIFEST.txt"

kit_bytes="$(du -sb "$kit" | cut -f1)"
# Tracked and untracked-not-ignored files as the device tool sends them (a deleted file: none).
tree_bytes="$(cd "$repo" && { git ls-files -z --cached --others --exclude-standard |
  xargs -0 -r stat -c %s -- 2>/dev/null || true; } | awk '{s += $1} END {print s + 0}')"
total=$((kit_bytes + tree_bytes)); limit=$((64 * 1024 * 1024))
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
rel="${kit#"$repo"/}"
echo
echo "kit: $kit"
(cd "$kit" && du -sh src/*.tar.xz include/stb models/* $([ -d prebuilt ] && echo prebuilt) | sed 's/^/  /')
echo "working tree that travels: $(mib "$tree_bytes"); kit: $(mib "$kit_bytes"); total $(mib "$total") of 64 MiB"
[ "$total" -le "$limit" ] || die "over the 64 MiB a device call carries: make the kit or the working tree smaller"
echo "carry list for the device tool: [\"$rel\"]"
echo "device call: the one docs/cuda_backend.md names under \"The next GPU session\" (what is still unmeasured);"
echo "  with no such plan: run(command=\"tools/gpu_check.sh\", carry=[\"$rel\"], timeout_s=600), then at once one with"
echo "  --steps naming the steps it marked SKIP (docs/gpu_check.md)"
