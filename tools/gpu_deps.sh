# shellcheck shell=bash
# Sourced by tools/gpu_check.sh on the GPU machine: finds the CUDA compiler and cuDNN, and builds
# from the kit (tools/gpu_prepare.sh) whatever build dependency the machine lacks. Fills
# CMAKE_ARGS (an array) for microsr's configure step. Needs from the caller: REPO KIT BUILD PY,
# log(), and LOGDIR. Nothing here installs into the system: the kit's libraries go to
# $BUILD/_deps/prefix, which the build directory keeps between calls on a warm machine.
#
# Which dependencies come from the kit: GPU_CHECK_KIT_DEPS=auto (default: the system's when its
# headers and libraries are there, else the kit's), all (always the kit's; used to test the kit on
# a development machine), none (never).

DEPS_DIR="$BUILD/_deps"
DEPS_PREFIX="$DEPS_DIR/prefix"
CMAKE_ARGS=()
# shellcheck disable=SC2034  # CUDNN_LIBRARY, CUDNN_HOW: read by gpu_check.sh
CUDNN_INCLUDE="" CUDNN_LIBRARY="" CUDNN_HOW="" NVCC="" CUDA_ROOT=""

lib_dirs=(/usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib /usr/local/lib64)
inc_dirs=(/usr/include /usr/local/include /usr/include/x86_64-linux-gnu)

have_header() { local d; for d in "${inc_dirs[@]}"; do [ -f "$d/$1" ] && return 0; done; return 1; }
have_lib() {  # any of the names, as a file or link a linker can use
  local d n; for d in "${lib_dirs[@]}"; do for n in "$@"; do [ -e "$d/$n" ] && return 0; done; done; return 1
}
have_cmake_config() {  # <package dir name> <config file>
  local d; for d in "${lib_dirs[@]}" /usr/share; do [ -f "$d/cmake/$1/$2" ] && return 0; done; return 1
}
use_kit() {  # <dep> <system present: 0/1>
  case "${GPU_CHECK_KIT_DEPS:-auto}" in
    all) return 0 ;; none) return 1 ;; *) [ "$2" = 0 ] ;;
  esac
}

# Builds one kit source (gpu_kit/src/<name>.tar.xz, top folder <name>) and installs it into the
# prefix; a stamp with the tarball's checksum skips the work on the next call.
build_kit_dep() {
  local name="$1"; shift
  local tarball="$KIT/src/$name.tar.xz" stamp="$DEPS_DIR/$name.stamp" sum
  if [ ! -f "$tarball" ]; then
    log "deps: $name is missing on this machine and the kit has no $tarball (run tools/gpu_check.sh --prepare where there is internet, and carry gpu_kit)"
    return 1
  fi
  sum="$(sha256sum "$tarball" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
    log "deps: $name from the kit, already built"; return 0
  fi
  log "deps: building $name from the kit"
  rm -rf "$DEPS_DIR/src/$name" "$DEPS_DIR/build/$name"
  mkdir -p "$DEPS_DIR/src" "$DEPS_DIR/build"
  tar -xJf "$tarball" -C "$DEPS_DIR/src" || return 1
  if [ "$name" = zlib ]; then
    # zlib: Debian's repacked source has no win32/ folder, which zlib's CMakeLists names even on
    # Linux; its own configure script needs nothing but a C compiler.
    (cd "$DEPS_DIR/src/$name" && CFLAGS="-O2 -fPIC -w" ./configure --prefix="$DEPS_PREFIX" &&
      make -j"$(nproc)" && make install) >"$LOGDIR/deps_$name.log" 2>&1
    deps_finish "$name" $? "$sum"; return
  fi
  local generator=(); command -v ninja >/dev/null && generator=(-G Ninja)
  # -w: warnings of other projects are not ours to fix; -include cstdint: older sources that
  # relied on transitive includes still compile with a newer GCC; POLICY_VERSION_MINIMUM lets
  # CMake 4 configure projects that declare an old minimum.
  { cmake -S "$DEPS_DIR/src/$name" -B "$DEPS_DIR/build/$name" "${generator[@]}" \
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$DEPS_PREFIX" -DCMAKE_PREFIX_PATH="$DEPS_PREFIX" \
      -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_POLICY_VERSION_MINIMUM=3.5 -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
      -DCMAKE_C_FLAGS=-w "-DCMAKE_CXX_FLAGS=-w -include cstdint" -DCMAKE_INSTALL_RPATH="$DEPS_PREFIX/lib" "$@" &&
    cmake --build "$DEPS_DIR/build/$name" -j"$(nproc)" &&
    cmake --install "$DEPS_DIR/build/$name"; } >"$LOGDIR/deps_$name.log" 2>&1
  deps_finish "$name" $? "$sum"
}

deps_finish() {  # name exit-code checksum
  local name="$1" rc="$2"
  if [ "$rc" -ne 0 ]; then
    log "deps: building $name FAILED (exit $rc); last lines of $LOGDIR/deps_$name.log:"
    tail -n 15 "$LOGDIR/deps_$name.log" >&2
    return 1
  fi
  echo "$3" >"$DEPS_DIR/$name.stamp"
}

deps_build_all() {
  local failed=0 sys
  mkdir -p "$DEPS_PREFIX"
  have_header zlib.h && have_lib libz.so && sys=1 || sys=0
  if use_kit zlib $sys; then build_kit_dep zlib || failed=1
  else log "deps: zlib from the system"; fi
  have_header tiffio.h && have_lib libtiff.so && sys=1 || sys=0
  if use_kit tiff $sys; then
    # Only the codecs microsr's files need (zlib/deflate, LZW, PackBits are built in); every
    # optional external codec off, so nothing else from the machine is picked up.
    build_kit_dep tiff -DBUILD_SHARED_LIBS=ON -Dzlib=ON -Djpeg=OFF -Dold-jpeg=OFF -Djbig=OFF \
      -Dlerc=OFF -Dlzma=OFF -Dzstd=OFF -Dwebp=OFF -Dlibdeflate=OFF -Dcxx=OFF -Dtiff-tools=OFF \
      -Dtiff-tests=OFF -Dtiff-contrib=OFF -Dtiff-docs=OFF -Dtiff-opengl=OFF || failed=1
  else log "deps: libtiff from the system"; fi
  have_header gtest/gtest.h && have_lib libgtest.a libgtest.so && sys=1 || sys=0
  if use_kit googletest $sys; then
    build_kit_dep googletest -DBUILD_GMOCK=OFF -DINSTALL_GTEST=ON -Dgtest_force_shared_crt=OFF || failed=1
  else log "deps: GoogleTest from the system"; fi
  have_header benchmark/benchmark.h && have_cmake_config benchmark benchmarkConfig.cmake && sys=1 || sys=0
  if use_kit benchmark $sys; then
    # GIT_VERSION: Debian's patch turns off the version lookup through git; 0.0.0 makes the
    # project's own version (1.7.1) the library's.
    build_kit_dep benchmark -DGIT_VERSION=0.0.0 -DBENCHMARK_ENABLE_TESTING=OFF -DBENCHMARK_ENABLE_GTEST_TESTS=OFF \
      -DBENCHMARK_ENABLE_WERROR=OFF -DBENCHMARK_ENABLE_LIBPFM=OFF -DBENCHMARK_INSTALL_DOCS=OFF || failed=1
  else log "deps: Google Benchmark from the system"; fi
  if use_kit stb "$(have_header stb/stb_image.h && echo 1 || echo 0)"; then
    if [ -f "$KIT/include/stb/stb_image.h" ]; then
      CMAKE_ARGS+=(-DStb_INCLUDE_DIR="$KIT/include/stb"); log "deps: stb headers from the kit"
    else
      log "deps: stb headers missing here and in the kit ($KIT/include/stb)"; failed=1
    fi
  else log "deps: stb headers from the system"; fi
  CMAKE_ARGS+=(-DCMAKE_PREFIX_PATH="$DEPS_PREFIX")
  return $failed
}

# ---- CUDA compiler and cuDNN ----------------------------------------------------------------

find_nvcc() {
  local c
  for c in "${CUDACXX:-}" "$(command -v nvcc 2>/dev/null)" /usr/local/cuda/bin/nvcc \
           $(ls -d /usr/local/cuda-*/bin/nvcc 2>/dev/null | sort -rV); do
    [ -n "$c" ] && [ -x "$c" ] && { NVCC="$c"; break; }
  done
  if [ -z "$NVCC" ]; then  # a pip CUDA toolkit (nvidia-cuda-nvcc) as the last resort
    NVCC="$("$PY" -c 'import glob, nvidia, os
print(next(iter(sorted(glob.glob(os.path.join(list(nvidia.__path__)[0], "*", "bin", "nvcc")))), ""))' 2>/dev/null)"
  fi
  [ -n "$NVCC" ] || return 1
  CUDA_ROOT="$(cd "$(dirname "$NVCC")/.." && pwd)"
}

# The folders of pip's NVIDIA wheels (nvidia/cudnn, nvidia/cu13, …) of the Python that has torch.
pip_nvidia_dirs() {
  "$PY" -c 'import os
try:
    import nvidia
except ImportError:
    raise SystemExit(0)
for root in nvidia.__path__:
    for name in sorted(os.listdir(root)):
        if os.path.isdir(os.path.join(root, name)):
            print(os.path.join(root, name))' 2>/dev/null
}

# Sets CUDNN_INCLUDE / CUDNN_LIBRARY. Order: $CUDNN_ROOT, then PyTorch's pip cuDNN (the same
# library PyTorch uses, so the comparison is like for like), then the system's.
find_cudnn() {
  local d candidates=()
  [ -n "${CUDNN_ROOT:-}" ] && candidates+=("$CUDNN_ROOT")
  while IFS= read -r d; do case "$d" in *cudnn*) candidates+=("$d") ;; esac; done < <(pip_nvidia_dirs)
  candidates+=("$CUDA_ROOT" /usr /usr/local /usr/local/cuda)
  for d in "${candidates[@]}"; do
    [ -d "$d" ] || continue
    local inc lib
    inc="$(find "$d" -maxdepth 3 -name cudnn.h 2>/dev/null | head -n1)"
    lib="$(find "$d" -maxdepth 3 \( -name libcudnn.so -o -name libcudnn.so.9 \) 2>/dev/null | sort | head -n1)"
    if [ -n "$inc" ] && [ -n "$lib" ]; then
      # shellcheck disable=SC2034  # read by gpu_check.sh
      CUDNN_INCLUDE="$(dirname "$inc")" CUDNN_LIBRARY="$lib" CUDNN_HOW="$d"
      return 0
    fi
  done
  return 1
}

cudnn_version() {
  local h="$CUDNN_INCLUDE/cudnn_version.h"; [ -f "$h" ] || h="$CUDNN_INCLUDE/cudnn.h"
  awk '/#define CUDNN_MAJOR /{a=$3} /#define CUDNN_MINOR /{b=$3} /#define CUDNN_PATCHLEVEL /{c=$3}
       END{if (a!="") print a"."b"."c}' "$h" 2>/dev/null
}

# cuBLAS: CMake's CUDA::cublas comes from the toolkit beside nvcc. Where that toolkit has no cuBLAS
# (a compiler-only install) the pip wheel's library and headers stand in, through links with the
# unversioned names a linker wants.
cublas_fallback() {
  local r
  for r in "$CUDA_ROOT/lib64" "$CUDA_ROOT/lib" "$CUDA_ROOT/targets/x86_64-linux/lib"; do
    [ -e "$r/libcublas.so" ] && return 0
  done
  local d lib lt hdr shim="$DEPS_DIR/cublas_shim"
  while IFS= read -r d; do
    lib="${lib:-$(find "$d" -maxdepth 2 -name 'libcublas.so.*' 2>/dev/null | sort | head -n1)}"
    lt="${lt:-$(find "$d" -maxdepth 2 -name 'libcublasLt.so.*' 2>/dev/null | sort | head -n1)}"
    hdr="${hdr:-$(find "$d" -maxdepth 2 -name cublas_v2.h 2>/dev/null | head -n1)}"
  done < <(pip_nvidia_dirs)
  if [ -z "${lib:-}" ] || [ -z "${lt:-}" ]; then
    log "cuBLAS: none beside $NVCC and none in pip's nvidia wheels: the build will fail at CUDA::cublas"
    return 1
  fi
  mkdir -p "$shim"; ln -sf "$lib" "$shim/libcublas.so"; ln -sf "$lt" "$shim/libcublasLt.so"
  CMAKE_ARGS+=(-DCUDA_cublas_LIBRARY="$shim/libcublas.so" -DCUDA_cublasLt_LIBRARY="$shim/libcublasLt.so")
  [ -n "${hdr:-}" ] && CMAKE_ARGS+=("-DCMAKE_CXX_FLAGS=-I$(dirname "$hdr")" "-DCMAKE_CUDA_FLAGS=-I$(dirname "$hdr")")
  LD_LIBRARY_PATH="$(dirname "$lib"):${LD_LIBRARY_PATH:-}"; export LD_LIBRARY_PATH
  log "cuBLAS: from pip ($lib), linked through $shim"
}
