#!/usr/bin/env python3
"""Writes the image fixtures of tests/test_image_io.cpp into tests/data/images/.

Every file is written by libraries independent of ours: Pillow (libpng, libjpeg, its BMP writer),
tifffile (+ imagecodecs for LZW and 16-bit PNG), or by hand with struct for crafted bad headers.
Pixel values follow pattern() below, which the C++ test recomputes; where a codec is lossy (JPEG)
the decoded values Pillow sees are stored beside the file as raw interleaved bytes (*.expected.u8).

Run with the pyenv python3 after: python3 -m pip install numpy pillow tifffile imagecodecs
(Debian's /usr/bin/python3 lacks tifffile).   Usage: python3 tools/make_image_fixtures.py
"""
import os
import struct
import zlib

import imagecodecs
import numpy as np
import tifffile
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "images")
W, H = 21, 19  # odd sizes: 4-row strips end with a partial strip, 16×16 tiles cover 2×2 with partial edges
LAYOUTS = {"gray": 1, "ga": 2, "rgb": 3, "rgba": 4}
COMPRESSIONS = {"none": 1, "lzw": 5, "deflate": 8, "packbits": 32773}  # TIFF Compression tag values


def pattern(bits, channels):
    """[H, W, C] samples; the C++ test's fixture_value() is the same rule."""
    y, x, c = np.meshgrid(np.arange(H), np.arange(W), np.arange(channels), indexing="ij")
    if bits == 8:
        v = (37 * x + 91 * y + 53 * c + 11) % 256
    else:
        v = (7919 * x + 3571 * y + 12347 * c + 1) % 65536
    v[0, 0, :] = 0                      # the extremes must survive every path
    v[H - 1, W - 1, :] = 2 ** bits - 1
    return v.astype(np.uint8 if bits == 8 else np.uint16)


def path(*parts):
    p = os.path.join(OUT, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def tiff(name, data, **kw):
    tifffile.imwrite(path("tiff", name), data, metadata=None, **kw)


def write_tiff_matrix():
    for bits in (8, 16):
        for layout, channels in LAYOUTS.items():
            data = pattern(bits, channels)
            if channels == 1:
                data = data[:, :, 0]
            kw = dict(photometric="rgb" if channels >= 3 else "minisblack")
            if channels in (2, 4):
                kw["extrasamples"] = ["unassalpha"]
            for comp_name, comp in COMPRESSIONS.items():
                tiff(f"u{bits}_{layout}_{comp_name}_strips.tif", data, compression=comp, rowsperstrip=4, **kw)
                tiff(f"u{bits}_{layout}_{comp_name}_tiles.tif", data, compression=comp, tile=(16, 16), **kw)


def write_tiff_variants():
    for bits in (8, 16):  # separate planes: [C, H, W] on disk
        planes = np.ascontiguousarray(pattern(bits, 3).transpose(2, 0, 1))
        tiff(f"u{bits}_rgb_separate_strips.tif", planes, photometric="rgb", planarconfig="separate",
             compression=8, rowsperstrip=4)
        tiff(f"u{bits}_rgb_separate_tiles.tif", planes, photometric="rgb", planarconfig="separate",
             compression=5, tile=(16, 16))
    tiff("u16_rgb_bigendian.tif", pattern(16, 3), photometric="rgb", byteorder=">", compression=8)
    tiff("u8_rgb_bigtiff.tif", pattern(8, 3), photometric="rgb", bigtiff=True, compression=5)
    tiff("u8_gray_miniswhite.tif", pattern(8, 1)[:, :, 0], photometric="miniswhite")
    # Premultiplied alpha: stored colour = round(straight × alpha / 255).
    straight = pattern(8, 4).astype(np.uint32)
    stored = straight.copy()
    stored[:, :, :3] = (straight[:, :, :3] * straight[:, :, 3:] + 127) // 255
    tiff("u8_rgba_assocalpha.tif", stored.astype(np.uint8), photometric="rgb", extrasamples=["assocalpha"])
    # Palette (Pillow writes ColorMap = 8-bit colour × 257). Index = 8-bit pattern of channel 0.
    palette = [v for i in range(256) for v in ((3 * i) % 256, 255 - i, (7 * i) % 256)]
    image = Image.fromarray(pattern(8, 1)[:, :, 0], mode="L").convert("P")
    image.putpalette(palette)
    image.putdata(list(pattern(8, 1)[:, :, 0].flatten()))
    image.save(path("tiff", "u8_palette.tif"))
    # Resolution and description, as a microscope camera would write them.
    tiff("u16_gray_resolution.tif", pattern(16, 1)[:, :, 0], resolution=(25000, 12500),
         resolutionunit="CENTIMETER", description="objective 4X; 0.4 um/px")
    # JPEG inside TIFF (YCbCr): lossy, so keep what Pillow decodes.
    rgb = Image.fromarray(smooth_rgb())
    rgb.save(path("tiff", "u8_rgb_jpeg.tif"), compression="jpeg", quality=95)
    with Image.open(path("tiff", "u8_rgb_jpeg.tif")) as decoded:
        np.asarray(decoded.convert("RGB")).tofile(path("tiff", "u8_rgb_jpeg.expected.u8"))


def write_unsupported_tiffs():
    gray = pattern(16, 1)[:, :, 0]
    tiff("bad_float32.tif", gray.astype(np.float32) / 65535)
    tiff("bad_uint32.tif", gray.astype(np.uint32))
    tiff("bad_int16.tif", (gray.astype(np.int32) - 32768).astype(np.int16))
    tiff("bad_cmyk.tif", pattern(8, 4), photometric="separated")
    tiff("bad_rgb_two_extras.tif", np.concatenate([pattern(8, 4), pattern(8, 1)], axis=2),
         photometric="rgb", extrasamples=["unassalpha", "unspecified"])
    Image.fromarray(pattern(8, 1)[:, :, 0] > 127).save(path("tiff", "bad_bilevel.tif"))


def smooth_rgb():
    """A gentle gradient (JPEG-friendly), [H, W, 3] uint8."""
    y, x = np.mgrid[0:H, 0:W]
    return np.stack([40 + 8 * x, 30 + 9 * y, 200 - 4 * x - 3 * y], axis=2).astype(np.uint8)


def write_stb_formats():
    for layout, channels in LAYOUTS.items():
        mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
        data8 = pattern(8, channels)
        Image.fromarray(data8[:, :, 0] if channels == 1 else data8, mode=mode).save(path("png", f"u8_{layout}.png"))
        data16 = pattern(16, channels)
        with open(path("png", f"u16_{layout}.png"), "wb") as f:
            f.write(imagecodecs.png_encode(data16[:, :, 0] if channels == 1 else data16))
    for name, image in (("gray", Image.fromarray(smooth_rgb()[:, :, 0], mode="L")), ("rgb", Image.fromarray(smooth_rgb()))):
        image.save(path("jpeg", f"{name}.jpg"), quality=95, subsampling=0)
        with Image.open(path("jpeg", f"{name}.jpg")) as decoded:
            np.asarray(decoded).tofile(path("jpeg", f"{name}.expected.u8"))
    Image.fromarray(pattern(8, 3)).save(path("bmp", "rgb.bmp"))
    Image.fromarray(pattern(8, 1)[:, :, 0], mode="L").save(path("bmp", "gray.bmp"))  # 8-bit palette: stb gives RGB


def crafted_tiff(width, height):
    """A little-endian TIFF whose header claims width×height 8-bit gray, with 16 bytes of data."""
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 16)]
    ifd_offset = 8 + 16
    body = b"II*\x00" + struct.pack("<I", ifd_offset) + bytes(range(16))
    body += struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        body += struct.pack("<HHI", tag, kind, count) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
    return body + struct.pack("<I", 0)


def crafted_png(width, height):
    """A PNG signature and IHDR claiming width×height RGB, one empty IDAT, IEND."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def write_crafted():
    for name, data in (("huge.tif", crafted_tiff(100000, 100000)), ("zero.tif", crafted_tiff(0, 7)),
                       ("huge.png", crafted_png(100000, 100000)), ("zero.png", crafted_png(13, 0))):
        with open(path("bad", name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write_tiff_matrix()
    write_tiff_variants()
    write_unsupported_tiffs()
    write_stb_formats()
    write_crafted()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {sum(len(fs) for _, _, fs in os.walk(OUT))} files, {total / 1024:.0f} KiB, into {OUT}")
