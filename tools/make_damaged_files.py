#!/usr/bin/env python3
"""Damaged image and weight files for tools/fuzz_and_sanitize.sh (issue 13): what a user's broken
disk, interrupted copy or hostile download hands microsr.

    python3 tools/make_damaged_files.py OUT [--seed 13] [--quick]

Standard library only; deterministic for a given --seed and mode (same bytes, same names). Seeds
are the valid fixtures under tests/data (PNG/JPEG/BMP/TIFF 8 and 16 bit, a multi-page TIFF, the
tiny RRDBNet .pth/.safetensors files) plus a few written here (multi-page 8/16-bit TIFFs, an ncnn
.param/.bin pair of the tiny RRDBNet, safetensors in F16/BF16). From each seed it makes:
  * truncations at many offsets (the first bytes densely, then spread over the file);
  * byte flips (xor, set to 0/0xff/random, "interesting" 32-bit integers), biased towards the
    headers, ZIP directories and pickles where the parsing happens;
  * header-field corruption by format: PNG IHDR/chunk lengths, JPEG SOF/DHT/DQT/SOS, BMP header,
    TIFF IFD entries (huge or zero dimensions, bit depths, strip offsets and counts, IFD loops,
    damaged later pages of a stack), ZIP records of a .pth, the pickle's tensor arguments
    (negative or huge offsets, shapes, strides, storage keys and types), safetensors JSON
    (dtypes, shapes, data_offsets, header length), ncnn .param key=values and .bin tags;
  * hostile pickles: GLOBAL os.system / builtins.eval / subprocess.Popen with REDUCE, INST, OBJ,
    NEWOBJ, EXT, PERSID, BUILD, … Each would create the file microsr_fuzz_PWNED_<name> in the
    working folder if it ran; the runner checks that none appears.

Writes OUT/manifest.tsv, one line per case: kind, how to run it (image | image+detect | weights |
ncnn), the path
relative to OUT, the seed file and the damage done. OUT/valid/ holds what the runs need intact:
tiny.pth (the model for image runs) and small.png (the image for weight runs). ncnn cases are
OUT/.../NAME.param with NAME.bin beside it.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import struct
import sys
import zipfile
import zlib

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
IMAGES = os.path.join(REPO, "tests", "data", "images")
WEIGHTS = os.path.join(REPO, "tests", "data", "weights")

INTERESTING32 = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x10000]


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Cases:
    """Collects the damaged files and the manifest."""

    def __init__(self, root):
        self.root = root
        self.rows = []
        self.names = set()
        self.digests = set()

    def add(self, kind, run, name, data, source, how, bin_data=None):
        digest = hashlib.sha1(data + b"\0bin\0" + (bin_data or b"")).hexdigest()
        if digest in self.digests:  # the same bytes reached another way: one run is enough
            return
        self.digests.add(digest)
        rel = os.path.join(kind, name)
        assert rel not in self.names, rel
        self.names.add(rel)
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        if bin_data is not None:  # an ncnn pair: NAME.param + NAME.bin
            with open(path[: -len(".param")] + ".bin", "wb") as f:
                f.write(bin_data)
        self.rows.append((kind, run, rel, source, how.replace("\t", " ").replace("\n", " ")))

    def write_manifest(self):
        with open(os.path.join(self.root, "manifest.tsv"), "w") as f:
            f.write("# kind\trun\tpath\tseed\tdamage\n")
            for row in self.rows:
                f.write("\t".join(row) + "\n")


# ---- generic damage ------------------------------------------------------------------------------


def truncation_offsets(size, count, rng, dense=16):
    """0..dense, powers of two, then `count` offsets spread over the file (never the whole)."""
    offsets = set(range(0, min(size, dense + 1)))
    p = 32
    while p < size:
        offsets.add(p)
        p *= 2
    offsets.update(rng.randrange(size) for _ in range(count))
    offsets.add(size - 1)
    return sorted(o for o in offsets if 0 <= o < size)


def flip(data, rng, hot=None):
    """One random damage to `data`; `hot` is a list of (begin, end) regions preferred 2:1."""
    out = bytearray(data)

    def position():
        if hot and rng.random() < 0.67:
            b, e = rng.choice(hot)
            e = min(e, len(out))
            if e > b:
                return rng.randrange(b, e)
        return rng.randrange(len(out))

    r = rng.random()
    if r < 0.12 and len(out) >= 4:  # an interesting 32-bit integer, either byte order
        at = rng.randrange(len(out) - 3)
        if hot and rng.random() < 0.67:
            at = min(position(), len(out) - 4)
        value = rng.choice(INTERESTING32)
        out[at : at + 4] = struct.pack("<I" if rng.random() < 0.5 else ">I", value)
        return bytes(out), "u32 %#x at %d" % (value, at)
    count = 1 if r < 0.8 else rng.randint(2, 4)
    done = []
    for _ in range(count):
        at = position()
        kind = rng.randrange(5)
        if kind == 0:
            out[at] ^= 0xFF
            done.append("%d^ff" % at)
        elif kind == 1:
            bit = 1 << rng.randrange(8)
            out[at] ^= bit
            done.append("%d^%02x" % (at, bit))
        elif kind == 2:
            out[at] = 0
            done.append("%d=00" % at)
        elif kind == 3:
            out[at] = 0xFF
            done.append("%d=ff" % at)
        else:
            out[at] = rng.randrange(256)
            done.append("%d=%02x" % (at, out[at]))
    return bytes(out), "bytes " + ",".join(done)


def add_generic(cases, kind, run, stem, ext, data, source, rng, n_trunc, n_flip, hot=None, bin_data=None, dense=16):
    for n in truncation_offsets(len(data), n_trunc, rng, dense):
        cases.add(kind, run, "%s_cut%06d%s" % (stem, n, ext), data[:n], source, "truncated to %d of %d bytes" % (n, len(data)), bin_data)
    for i in range(n_flip):
        damaged, how = flip(data, rng, hot)
        if damaged == data:
            continue
        cases.add(kind, run, "%s_flip%04d%s" % (stem, i, ext), damaged, source, how, bin_data)


# ---- image writers (seeds of our own) -------------------------------------------------------------


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def make_png(width, height, bit_depth, colour_type, channels, sample):
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter: none
        for x in range(width):
            for c in range(channels):
                v = sample(x, y, c)
                raw += struct.pack(">H", v) if bit_depth == 16 else bytes([v])
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(bytes(raw))) + png_chunk(b"IEND", b"")


def make_tiff(pages, deflate=False, rows_per_strip=4):
    """Classic little-endian TIFF. pages: list of (width, height, channels, bits, sample, smax)."""
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    previous_next = 4  # where the offset of the next IFD goes
    for width, height, channels, bits, sample, smax in pages:
        strips = []
        for y0 in range(0, height, rows_per_strip):
            raw = bytearray()
            for y in range(y0, min(height, y0 + rows_per_strip)):
                for x in range(width):
                    for c in range(channels):
                        v = sample(x, y, c)
                        raw += struct.pack("<H", v) if bits == 16 else bytes([v])
            strips.append(zlib.compress(bytes(raw)) if deflate else bytes(raw))
        offsets = []
        for s in strips:
            if len(out) % 2:
                out.append(0)
            offsets.append(len(out))
            out += s
        extra = bytearray()  # out-of-line values, placed after the IFD

        def entry(tag, typ, values):
            size = {3: 2, 4: 4}[typ] * len(values)
            packed = b"".join(struct.pack("<H" if typ == 3 else "<I", v) for v in values)
            return (tag, typ, len(values), packed if size <= 4 else None, packed)

        entries = [
            entry(256, 4, [width]),
            entry(257, 4, [height]),
            entry(258, 3, [bits] * channels),
            entry(259, 3, [8 if deflate else 1]),
            entry(262, 3, [2 if channels >= 3 else 1]),
            entry(273, 4, offsets),
            entry(277, 3, [channels]),
            entry(278, 4, [rows_per_strip]),
            entry(279, 4, [len(s) for s in strips]),
            entry(284, 3, [1]),
        ]
        if smax is not None:
            entries.append(entry(281, 3, [smax]))
        if channels in (2, 4):
            entries.append(entry(338, 3, [2]))  # unassociated alpha
        entries.sort()
        if len(out) % 2:
            out.append(0)
        ifd = len(out)
        struct.pack_into("<I", out, previous_next, ifd)
        table_end = ifd + 2 + 12 * len(entries) + 4
        body = bytearray(struct.pack("<H", len(entries)))
        for tag, typ, count, inline, packed in entries:
            if inline is not None:
                value = inline + b"\x00" * (4 - len(inline))
            else:
                value = struct.pack("<I", table_end + len(extra))
                extra += packed
                if len(extra) % 2:
                    extra.append(0)
            body += struct.pack("<HHI", tag, typ, count) + value
        previous_next = ifd + len(body)
        body += b"\x00\x00\x00\x00"
        out += body + extra
    return bytes(out)


def own_image_seeds():
    gray12 = lambda x, y, c: (x * 97 + y * 31 + c * 7) % 4096
    rgb8 = lambda x, y, c: (x * 11 + y * 7 + c * 50) % 256
    return {
        "gen_u16_gray_4pages_deflate.tif": make_tiff([(20, 14, 1, 16, gray12, 4095)] * 4, deflate=True),
        "gen_u8_rgb_3pages.tif": make_tiff([(18, 12, 3, 8, rgb8, None), (18, 12, 3, 8, rgb8, None), (9, 6, 3, 8, rgb8, None)]),
        "gen_u16_ga_2pages.tif": make_tiff([(16, 10, 2, 16, lambda x, y, c: (x * 4000 + y * 900 + c * 30000) % 65536, None)] * 2),
        "gen_u16_rgb.png": make_png(20, 14, 16, 2, 3, lambda x, y, c: (x * 3000 + y * 1000 + c * 20000) % 65536),
    }


FIXTURE_IMAGES = [
    "png/u8_rgb.png", "png/u8_rgba.png", "png/u8_gray.png", "png/u8_ga.png", "png/u16_rgb.png", "png/u16_gray.png",
    "png/u16_rgba.png", "png/u16_ga.png", "jpeg/rgb.jpg", "jpeg/gray.jpg", "bmp/rgb.bmp", "bmp/gray.bmp",
    "tiff/u8_rgb_deflate_strips.tif", "tiff/u16_rgba_lzw_tiles.tif", "tiff/u8_ga_packbits_strips.tif",
    "tiff/u16_rgb_separate_tiles.tif", "tiff/u8_rgb_bigtiff.tif", "tiff/u8_rgb_jpeg.tif", "tiff/u8_palette.tif",
    "tiff/u16_12bit_smax.tif", "tiff/u16_rgb_bigendian.tif", "tiff/u8_gray_none_tiles.tif", "tiff/pages_3.tif",
    "tiff/with_thumbnail.tif", "tiff/u16_gray_deflate_tiles.tif",
]


def image_run(name):
    """16-bit seeds also go through detect, whose gray conversion reads SMaxSampleValue (issue 13, case 2)."""
    return "image+detect" if "u16" in name else "image"


def image_kind(name, data):
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpeg"
    if data.startswith(b"BM"):
        return "bmp"
    return "tiff-multipage" if ("pages" in name or "thumbnail" in name) else "tiff"


# ---- image header corruption ----------------------------------------------------------------------


def png_chunks(data):
    at, chunks = 8, []
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        chunks.append((at, length, kind))
        at += 12 + length
    return chunks


def png_structured(data):
    """(name, bytes, what) variants of a PNG's IHDR and chunks."""
    chunks = png_chunks(data)
    ihdr_at = chunks[0][0]
    w, h, depth, ctype, comp, filt, inter = struct.unpack(">IIBBBBB", data[ihdr_at + 8 : ihdr_at + 21])
    out = []

    def with_ihdr(name, fields):
        body = struct.pack(">IIBBBBB", *fields)
        new = data[:ihdr_at] + png_chunk(b"IHDR", body) + data[ihdr_at + 25 :]
        out.append((name, new, "IHDR %s" % (fields,)))

    for nw, nh in [(0, h), (w, 0), (0x7FFFFFFF, h), (w, 0x7FFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (16384, 16384),
                   (1, h), (w, 1), (w * 2, h), (w, h * 2), (1 << 14, 1 << 14 + 1)]:
        with_ihdr("ihdr_size_%dx%d" % (nw, nh), (nw, nh, depth, ctype, comp, filt, inter))
    for d in [0, 1, 2, 3, 4, 5, 7, 9, 16 if depth == 8 else 8, 32, 255]:
        with_ihdr("ihdr_depth%d" % d, (w, h, d, ctype, comp, filt, inter))
    for t in [0, 1, 2, 3, 4, 5, 6, 7, 255]:
        if t != ctype:
            with_ihdr("ihdr_colour%d" % t, (w, h, depth, t, comp, filt, inter))
    with_ihdr("ihdr_compression1", (w, h, depth, ctype, 1, filt, inter))
    with_ihdr("ihdr_filter1", (w, h, depth, ctype, comp, 1, inter))
    for i in [1, 2, 255]:
        with_ihdr("ihdr_interlace%d" % i, (w, h, depth, ctype, comp, filt, i))
    for at, length, kind in chunks:
        for value in sorted({0, 1, 0x7FFFFFFF, 0xFFFFFFFF, length + 1, max(0, length - 1)} - {length}):
            new = bytearray(data)
            struct.pack_into(">I", new, at, value)
            out.append(("len_%s_%d" % (kind.decode(), value), bytes(new), "%s chunk length %d" % (kind.decode(), value)))
    idat = [c for c in chunks if c[2] == b"IDAT"][0]
    raw = zlib.decompress(data[idat[0] + 8 : idat[0] + 8 + idat[1]])
    row = len(raw) // h

    def with_idat(name, payload, what):
        new = data[: idat[0]] + png_chunk(b"IDAT", payload) + data[idat[0] + 12 + idat[1] :]
        out.append((name, new, what))

    with_idat("idat_short_rows", zlib.compress(raw[: len(raw) // 2]), "IDAT inflates to half the rows")
    with_idat("idat_long_rows", zlib.compress(raw + raw), "IDAT inflates to twice the rows")
    with_idat("idat_empty", b"", "empty IDAT")
    with_idat("idat_not_zlib", bytes(range(64)), "IDAT not a zlib stream")
    with_idat("idat_zlib_bomb", zlib.compress(b"\x00" * (64 << 20)), "IDAT inflates to 64 MiB")
    for f in [5, 128, 255]:
        bad = bytearray(raw)
        for y in range(h):
            bad[y * row] = f
        with_idat("idat_filter%d" % f, zlib.compress(bytes(bad)), "every row has filter type %d" % f)
    with_idat("idat_truncated_stream", zlib.compress(raw)[:-6], "IDAT zlib stream cut short")
    iend = [c for c in chunks if c[2] == b"IEND"][0]
    out.append(("no_iend", data[: iend[0]], "IEND chunk removed"))
    out.append(("two_ihdr", data[:33] + data[8:33] + data[33:], "IHDR twice"))
    out.append(("plte_huge", data[:33] + png_chunk(b"PLTE", b"\x01" * 900) + data[33:], "PLTE of 300 entries"))
    out.append(("trns_big", data[:33] + png_chunk(b"tRNS", b"\x00" * 600) + data[33:], "tRNS of 600 bytes"))
    return out


def jpeg_segments(data):
    at, segs = 2, []
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        length = struct.unpack(">H", data[at + 2 : at + 4])[0]
        segs.append((at, marker, length))
        if marker == 0xDA:
            break
        at += 2 + length
    return segs


def jpeg_structured(data):
    out = []
    segs = jpeg_segments(data)

    def patch(name, at, fmt, value, what):
        new = bytearray(data)
        struct.pack_into(fmt, new, at, value)
        out.append((name, bytes(new), what))

    for at, marker, length in segs:
        body = at + 4
        if marker in (0xC0, 0xC1, 0xC2):
            for p in [0, 1, 12, 16, 255]:
                patch("sof_precision%d" % p, body, ">B", p, "SOF sample precision %d" % p)
            for v in [0, 1, 0xFFFF]:
                patch("sof_height%d" % v, body + 1, ">H", v, "SOF height %d" % v)
                patch("sof_width%d" % v, body + 3, ">H", v, "SOF width %d" % v)
            for n in [0, 2, 4, 5, 255]:
                patch("sof_components%d" % n, body + 5, ">B", n, "SOF component count %d" % n)
            for s in [0x00, 0x0F, 0xF0, 0x44, 0xFF]:
                patch("sof_sampling%02x" % s, body + 7, ">B", s, "SOF sampling factors %#x" % s)
            for q in [3, 4, 255]:
                patch("sof_qtable%d" % q, body + 8, ">B", q, "SOF quantization table %d" % q)
            for m in [0xC1, 0xC2, 0xC3, 0xC5, 0xC9, 0xCF]:
                if m != marker:
                    patch("sof_marker%02x" % m, at + 1, ">B", m, "SOF marker changed to %#x" % m)
            for v in [0, 2, 0xFFFF]:
                patch("sof_length%d" % v, at + 2, ">H", v, "SOF length %d" % v)
        elif marker == 0xC4:
            for c in [0x02, 0x04, 0x14, 0xFF]:
                patch("dht%d_class%02x" % (at, c), body, ">B", c, "DHT class/id %#x" % c)
            for k in [0, 7, 15]:
                patch("dht%d_count%d_ff" % (at, k), body + 1 + k, ">B", 0xFF, "DHT count of %d-bit codes = 255" % (k + 1))
            patch("dht%d_counts_zero" % at, body + 1, ">16s", bytes(16), "DHT with no codes")
            for v in [0, 2, 3, 0xFFFF]:
                patch("dht%d_length%d" % (at, v), at + 2, ">H", v, "DHT length %d" % v)
        elif marker == 0xDB:
            for pq in [0x10, 0x04, 0xFF]:
                patch("dqt%d_%02x" % (at, pq), body, ">B", pq, "DQT precision/id %#x" % pq)
            patch("dqt%d_zeros" % at, body + 1, ">64s", bytes(64), "DQT of zeros")
            for v in [0, 2, 0xFFFF]:
                patch("dqt%d_length%d" % (at, v), at + 2, ">H", v, "DQT length %d" % v)
        elif marker == 0xDA:
            for n in [0, 2, 4, 255]:
                patch("sos_components%d" % n, body, ">B", n, "SOS component count %d" % n)
            patch("sos_selector", body + 1, ">B", 9, "SOS selects component 9")
            patch("sos_tables", body + 2, ">B", 0xFF, "SOS Huffman tables 15/15")
            for v in [0, 0xFFFF]:
                patch("sos_length%d" % v, at + 2, ">H", v, "SOS length %d" % v)
        elif 0xE0 <= marker <= 0xEF:
            for v in [0, 1, 0xFFFF]:
                patch("app%d_length%d" % (at, v), at + 2, ">H", v, "APP length %d" % v)
    sos = segs[-1][0]
    out.append(("dri_1", data[:sos] + b"\xff\xdd\x00\x04\x00\x01" + data[sos:], "restart interval 1, no RST markers"))
    out.append(("no_eoi", data[:-2], "EOI removed"))
    out.append(("only_headers", data[: sos + 2 + segs[-1][2]], "ends right after SOS"))
    out.append(("scan_ff", data[: sos + 2 + segs[-1][2]] + b"\xff" * 200 + b"\xff\xd9", "scan of 0xFF fill bytes"))
    out.append(("scan_rst", data[: sos + 2 + segs[-1][2]] + b"\xff\xd0" * 100 + b"\xff\xd9", "scan of RST markers"))
    return out


def bmp_structured(data):
    out = []

    def patch(name, at, fmt, value):
        new = bytearray(data)
        struct.pack_into(fmt, new, at, value)
        out.append((name, bytes(new), "BMP %s = %d" % (name, value)))

    for v in [0, -1, -21, 0x7FFFFFFF, -0x80000000, 100000, 1]:
        patch("width%d" % v, 18, "<i", v)
        patch("height%d" % v, 22, "<i", v)
    for v in [0, 2]:
        patch("planes%d" % v, 26, "<H", v)
    for v in [0, 1, 2, 4, 7, 15, 16, 24, 32, 33, 64, 0xFFFF]:
        patch("bits%d" % v, 28, "<H", v)
    for v in [1, 2, 3, 4, 5, 6, 99, 0xFFFFFFFF]:
        patch("compression%d" % v, 30, "<I", v)
    for v in [0, 14, 54, len(data), len(data) - 1, 0xFFFFFFFF]:
        patch("pixel_offset%d" % v, 10, "<I", v)
    for v in [0, 12, 16, 39, 52, 56, 64, 108, 124, 0xFFFFFFFF]:
        patch("info_size%d" % v, 14, "<I", v)
    for v in [1, 255, 257, 0x100000, 0xFFFFFFFF]:
        patch("palette_colours%d" % v, 46, "<I", v)
    for v in [0, 0xFFFFFFFF]:
        patch("file_size%d" % v, 2, "<I", v)
    return out


TIFF_TYPES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8}


def tiff_ifds(data):
    """[(ifd offset, [(entry offset, tag, type, count)])] along a little-endian classic TIFF's chain."""
    if not data.startswith(b"II*\x00"):
        return []
    ifds, at, seen = [], struct.unpack("<I", data[4:8])[0], set()
    while 0 < at < len(data) - 2 and at not in seen:
        seen.add(at)
        n = struct.unpack("<H", data[at : at + 2])[0]
        entries = []
        for i in range(n):
            e = at + 2 + 12 * i
            if e + 12 > len(data):
                break
            tag, typ, count = struct.unpack("<HHI", data[e : e + 8])
            entries.append((e, tag, typ, count))
        ifds.append((at, entries))
        nxt = at + 2 + 12 * n
        at = struct.unpack("<I", data[nxt : nxt + 4])[0] if nxt + 4 <= len(data) else 0
    return ifds


TIFF_TAG_VALUES = {  # tag: (name, values)
    256: ("width", [0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 200000]),
    257: ("height", [0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 200000]),
    258: ("bits", [0, 1, 4, 12, 24, 32, 64, 0xFFFF]),
    259: ("compression", [2, 3, 5, 6, 7, 8, 32773, 34712, 50000, 0xFFFF]),
    262: ("photometric", [0, 1, 2, 3, 4, 5, 6, 8, 32844, 0xFFFF]),
    273: ("strip_offsets", [0, 8, 0x7FFFFFFF, 0xFFFFFFFF]),
    277: ("samples", [0, 1, 2, 3, 4, 5, 255, 0xFFFF]),
    278: ("rows_per_strip", [0, 1, 0xFFFFFFFF]),
    279: ("strip_counts", [0, 1, 0x7FFFFFFF, 0xFFFFFFFF]),
    284: ("planar", [0, 2, 3]),
    322: ("tile_width", [0, 8, 16, 0x10000, 0xFFFFFFFF]),
    323: ("tile_length", [0, 8, 16, 0x10000, 0xFFFFFFFF]),
    324: ("tile_offsets", [0, 8, 0xFFFFFFFF]),
    325: ("tile_counts", [0, 1, 0xFFFFFFFF]),
    320: ("colormap", [0, 0xFFFF]),
    338: ("extra_samples", [0, 1, 2, 3, 0xFFFF]),
    339: ("sample_format", [0, 2, 3, 4, 5, 0xFFFF]),
    281: ("smax", [0, 1, 255, 4096, 0xFFFF]),
    280: ("smin", [0, 4095, 0xFFFF]),
}


def tiff_structured(data, which_ifd):
    """Corrupts IFD entries of one page (`which_ifd`: 0 the first, -1 the last) and the IFD chain."""
    out = []
    ifds = tiff_ifds(data)
    if not ifds:
        return out
    page = "p%d" % (which_ifd if which_ifd >= 0 else len(ifds) - 1)
    ifd_at, entries = ifds[which_ifd]
    for e, tag, typ, count in entries:
        if tag in TIFF_TAG_VALUES and typ in (3, 4):
            name, values = TIFF_TAG_VALUES[tag]
            size = TIFF_TYPES[typ]
            inline = size * count <= 4
            where = e + 8 if inline else struct.unpack("<I", data[e + 8 : e + 12])[0]
            for v in values:
                if typ == 3 and v > 0xFFFF:
                    continue
                new = bytearray(data)
                if where + size > len(new):
                    continue
                struct.pack_into("<H" if typ == 3 else "<I", new, where, v)
                out.append(("%s_%s_%d" % (page, name, v), bytes(new), "page %s %s = %d" % (page, name, v)))
        for typ_new in [0, 3 if typ == 4 else 4, 5, 16, 99]:
            if typ_new != typ:
                new = bytearray(data)
                struct.pack_into("<H", new, e + 2, typ_new)
                out.append(("%s_tag%d_type%d" % (page, tag, typ_new), bytes(new), "tag %d type %d" % (tag, typ_new)))
        for count_new in [0, 0x40000000, 0xFFFFFFFF]:
            if count_new != count:
                new = bytearray(data)
                struct.pack_into("<I", new, e + 4, count_new)
                out.append(("%s_tag%d_count%d" % (page, tag, count_new), bytes(new), "tag %d count %d" % (tag, count_new)))
        if TIFF_TYPES.get(typ, 1) * count > 4:
            new = bytearray(data)
            struct.pack_into("<I", new, e + 8, 0xFFFFFFF0)
            out.append(("%s_tag%d_offset_far" % (page, tag), bytes(new), "tag %d values at 0xfffffff0" % tag))
    # Both sides large at once: 16384×16384 is just within microsr's pixel limit, over a few strips.
    sides = {tag: (e, typ) for e, tag, typ, count in entries if tag in (256, 257) and count == 1 and typ in (3, 4)}
    if len(sides) == 2:
        for side in [16384, 0xFFFF]:
            new = bytearray(data)
            for e, typ in sides.values():
                struct.pack_into("<H" if typ == 3 else "<I", new, e + 8, side)
            out.append(("%s_size_%dx%d" % (page, side, side), bytes(new), "page %s is %d×%d" % (page, side, side)))
    for n in [0, 1, 0xFFFF]:
        new = bytearray(data)
        struct.pack_into("<H", new, ifd_at, n)
        out.append(("%s_ifd_entries%d" % (page, n), bytes(new), "IFD entry count %d" % n))
    # The chain: the next-IFD pointer of this page to itself, the first page, the end, far away.
    nxt = ifd_at + 2 + 12 * len(entries)
    if nxt + 4 <= len(data):
        for label, target in [("self", ifd_at), ("first", ifds[0][0]), ("end", len(data) - 2), ("far", 0xFFFFFFF0),
                              ("odd", ifd_at + 1)]:
            new = bytearray(data)
            struct.pack_into("<I", new, nxt, target)
            out.append(("%s_next_%s" % (page, label), bytes(new), "next IFD pointer -> %s (%d)" % (label, target)))
    if which_ifd == 0:
        for label, target in [("zero", 0), ("far", 0xFFFFFFF0), ("header", 0), ("end", len(data) - 1)]:
            new = bytearray(data)
            struct.pack_into("<I", new, 4, target if label != "header" else 4)
            out.append(("first_ifd_%s" % label, bytes(new), "first IFD offset -> %s" % label))
    return out


# ---- weight files ---------------------------------------------------------------------------------


class Stub:
    """Stands in for every global while reading a fixture's pickle (nothing is imported or called)."""

    def __init__(self, name):
        self.name = name

    def __call__(self, *args):
        return (self.name, args)


def read_torch_archive(path):
    """(root, [(name, storage type, key, numel, offset, shape, stride)], {key: bytes}) of a torch.save zip."""
    import pickle

    z = zipfile.ZipFile(path)
    pkl_name = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
    root = pkl_name[: -len("data.pkl")]

    class Reader(pickle.Unpickler):
        def find_class(self, module, name):
            return dict if (module, name) == ("collections", "OrderedDict") else Stub(module + "." + name)

        def persistent_load(self, pid):
            return pid

    import io

    obj = Reader(io.BytesIO(z.read(pkl_name))).load()
    tensors = []
    for name, (func, args) in obj.items():
        storage, offset, shape, stride = args[0], args[1], args[2], args[3]
        tensors.append((name, storage[1].name.split(".")[-1], storage[2], storage[4], offset, list(shape), list(stride)))
    storages = {n[len(root) + 5 :]: z.read(n) for n in z.namelist() if n.startswith(root + "data/")}
    return root, tensors, storages


class Pickle:
    """A protocol-2 pickle written opcode by opcode (so that it can be wrong on purpose)."""

    def __init__(self):
        self.b = bytearray(b"\x80\x02")

    def raw(self, data):
        self.b += data
        return self

    def glob(self, module, name):
        return self.raw(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def text(self, s):
        s = s.encode() if isinstance(s, str) else s
        return self.raw(b"X" + struct.pack("<I", len(s)) + s)

    def integer(self, v):
        if 0 <= v < 256:
            return self.raw(b"K" + bytes([v]))
        if -(1 << 31) <= v < (1 << 31):
            return self.raw(b"J" + struct.pack("<i", v))
        return self.raw(b"\x8a\x08" + struct.pack("<q", v))

    def tup(self, values):
        self.raw(b"(")
        for v in values:
            self.integer(v)
        return self.raw(b"t")

    def tensor(self, storage_type, key, numel, offset, shape, stride, args_extra=b"", n_args=None):
        self.glob("torch._utils", "_rebuild_tensor_v2").raw(b"((")
        self.text("storage").glob("torch", storage_type).text(key).text("cpu").integer(numel).raw(b"tQ")
        self.integer(offset).tup(shape).tup(stride).raw(b"\x89")
        self.glob("collections", "OrderedDict").raw(b")R")
        return self.raw(args_extra + b"tR")

    def state_dict(self, tensors, edit=None):
        """OrderedDict of tensors; edit(i, fields) may change tensor i's fields (a dict)."""
        self.glob("collections", "OrderedDict").raw(b")R(")
        for i, (name, stype, key, numel, offset, shape, stride) in enumerate(tensors):
            f = dict(name=name, stype=stype, key=key, numel=numel, offset=offset, shape=shape, stride=stride, extra=b"")
            if edit:
                edit(i, f)
            self.text(f["name"]).tensor(f["stype"], f["key"], f["numel"], f["offset"], f["shape"], f["stride"], f["extra"])
        return self.raw(b"u")

    def done(self):
        return bytes(self.b + b".")


def torch_zip(pickle_bytes, storages, root="archive/", extra_entries=()):
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        def put(name, data):  # a fixed date: the same bytes on every run
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)

        put(root + "data.pkl", pickle_bytes)
        put(root + "byteorder", "little")
        for key, data in storages.items():
            put(root + "data/" + key, data)
        for name, data in extra_entries:
            put(name, data)
        put(root + "version", "3\n")
    return buf.getvalue()


def hostile_pickles():
    """(name, pickle bytes, what): each would create microsr_fuzz_PWNED_<name> if it ran."""
    out = []

    def cmd(name):
        return "touch microsr_fuzz_PWNED_" + name

    def add(name, p, what):
        out.append((name, p if isinstance(p, bytes) else p.done(), what))

    add("os_system", Pickle().glob("os", "system").text(cmd("os_system")).raw(b"\x85R"), "GLOBAL os.system + REDUCE")
    add("posix_system", Pickle().glob("posix", "system").text(cmd("posix_system")).raw(b"\x85R"), "GLOBAL posix.system")
    add("builtins_eval", Pickle().glob("builtins", "eval").text("__import__('os').system('%s')" % cmd("builtins_eval")).raw(b"\x85R"),
        "GLOBAL builtins.eval")
    add("builtins_exec", Pickle().glob("__builtin__", "exec").text("import os; os.system('%s')" % cmd("builtins_exec")).raw(b"\x85R"),
        "GLOBAL __builtin__.exec")
    add("subprocess_popen", Pickle().glob("subprocess", "Popen").raw(b"(").text("sh").text("-c").text(cmd("subprocess_popen")).raw(b"l\x85R"),
        "GLOBAL subprocess.Popen")
    sg = Pickle()
    sg.raw(b"\x8c\x02os\x8c\x06system\x93").text(cmd("stack_global")).raw(b"\x85R")
    add("stack_global", sg, "STACK_GLOBAL os.system (protocol 4 style)")
    add("inst", Pickle().raw(b"(").text(cmd("inst")).raw(b"ios\nsystem\n"), "INST os.system")
    add("obj", Pickle().raw(b"(").glob("os", "system").text(cmd("obj")).raw(b"o"), "OBJ os.system")
    add("newobj", Pickle().glob("os", "system").text(cmd("newobj")).raw(b"\x85\x81"), "NEWOBJ on os.system")
    add("newobj_ex", Pickle().glob("os", "system").text(cmd("newobj_ex")).raw(b"\x85}\x92"), "NEWOBJ_EX")
    add("ext1", Pickle().raw(b"\x82\x01").text(cmd("ext1")).raw(b"\x85R"), "EXT1 (copyreg extension registry)")
    add("ext4", Pickle().raw(b"\x84\xff\xff\xff\x7f"), "EXT4")
    add("persid_text", Pickle().raw(b"Pos.system\n").text(cmd("persid_text")).raw(b"\x85R"), "PERSID with a text id")
    add("build_setstate", Pickle().glob("collections", "OrderedDict").raw(b")R").glob("os", "system").raw(b"b"),
        "BUILD with a callable state")
    add("reduce_in_tensor", Pickle().glob("collections", "OrderedDict").raw(b")R").text("w").glob("torch._utils", "_rebuild_tensor_v2")
        .raw(b"(").glob("os", "system").text(cmd("reduce_in_tensor")).raw(b"\x85R").integer(0).tup([1]).tup([1]).raw(b"\x89}tRs"),
        "os.system call nested in _rebuild_tensor_v2's arguments")
    add("ordered_dict_args", Pickle().glob("collections", "OrderedDict").raw(b"(").glob("os", "system").text(cmd("ordered_dict_args"))
        .raw(b"\x85Rt\x85R"), "OrderedDict((os.system(...),))")
    add("storage_call", Pickle().glob("torch", "FloatStorage").text(cmd("storage_call")).raw(b"\x85R"), "calling a storage class")
    add("getattr_chain", Pickle().glob("builtins", "getattr").raw(b"(").glob("builtins", "__import__").raw(b"(").text("os").raw(b"tR")
        .text("system").raw(b"tR").text(cmd("getattr_chain")).raw(b"\x85R"), "getattr(__import__('os'), 'system')")
    add("numpy_reconstruct", Pickle().glob("numpy.core.multiarray", "_reconstruct").raw(b")R"), "GLOBAL numpy _reconstruct")
    add("torch_load", Pickle().glob("torch", "load").text("/etc/passwd").raw(b"\x85R"), "GLOBAL torch.load")
    add("global_newline", Pickle().raw(b"cos\nsystem\x00collections\n").text(cmd("global_newline")).raw(b"\x85R"),
        "GLOBAL with a NUL inside the name")
    add("global_long", Pickle().raw(b"c" + b"o" * 10000 + b"\nsystem\n"), "GLOBAL with a 10000-byte module name")
    add("after_stop", Pickle().glob("collections", "OrderedDict").raw(b")R.").glob("os", "system").text(cmd("after_stop")).raw(b"\x85R"),
        "os.system after STOP")
    return out


def pickle_structured(tensors):
    """(name, pickle bytes, what) variants of a state-dict pickle (the storages stay as they are)."""
    out = []

    def edited(name, what, edit):
        out.append((name, Pickle().state_dict(tensors, edit).done(), what))

    def first(field, value):
        def edit(i, f):
            if i == 0:
                f[field] = value
        return edit

    n0 = tensors[0][3]
    for v in [-1, -(1 << 62), 1, n0, n0 - 1, 1 << 40, (1 << 62), (1 << 63) - 1]:
        edited("offset_%d" % v, "first tensor's storage offset %d" % v, first("offset", v))
    shape0 = tensors[0][5]
    for shape in [[-1] + shape0[1:], [0] + shape0[1:], [1 << 31] + shape0[1:], [1 << 40, 1 << 40, 1 << 40, 1 << 40],
                  shape0[:-1], shape0 + [1], [(1 << 63) - 1] + shape0[1:], [2, 2, 2, 2, 2, 2, 2, 2, 2, 2]]:
        edited("shape_%s" % "_".join(map(str, shape))[:60], "first tensor's shape %s" % shape, first("shape", shape))
    stride0 = tensors[0][6]
    for stride in [[-1] * len(stride0), [0] * len(stride0), [1 << 62] * len(stride0), [1 << 40] + stride0[1:],
                   stride0[:-1], [1] * len(stride0), list(reversed(stride0)), [(1 << 63) - 1] * len(stride0)]:
        edited("stride_%s" % "_".join(map(str, stride))[:60], "first tensor's strides %s" % stride, first("stride", stride))
    for v in [-1, 0, 1 << 62]:
        edited("numel_%d" % v, "storage numel %d" % v, first("numel", v))
    for t in ["DoubleStorage", "LongStorage", "ByteStorage", "BoolStorage", "BFloat16Storage", "FloatStorage",
              "UntypedStorage", "QInt8Storage"]:
        edited("stype_%s" % t, "storage type %s" % t, first("stype", t))
    for k in ["", "../../../etc/passwd", "a" * 100, "999", "0/../1", "0\x00"]:
        edited("key_%s" % "".join(c if c.isalnum() else "_" for c in k)[:30] + "_%d" % len(k), "storage key %r" % k, first("key", k))
    edited("all_one_storage", "every tensor views storage 0", lambda i, f: f.update(key=tensors[0][2]))
    edited("duplicate_names", "every tensor named conv_first.weight", lambda i, f: f.update(name=tensors[0][0]))
    edited("name_bytes", "a tensor name that is bytes", first("name", b"\xff\xfe"))
    edited("missing_first", "conv_first.weight renamed", first("name", "not_a_layer.weight"))
    edited("extra_arg", "_rebuild_tensor_v2 with 7 arguments", first("extra", b"N"))
    edited("extra_args2", "_rebuild_tensor_v2 with 8 arguments", first("extra", b"NN"))

    # Whole-pickle shapes.
    def raw(name, p, what):
        out.append((name, bytes(p) if isinstance(p, (bytes, bytearray)) else p.done(), what))

    raw("top_list", Pickle().raw(b"]"), "top level is a list")
    raw("top_none", Pickle().raw(b"N"), "top level is None")
    raw("top_int", Pickle().integer(7), "top level is an int")
    raw("empty_dict", Pickle().raw(b"}"), "an empty dict")
    raw("params_ema_int", Pickle().raw(b"}(").text("params_ema").integer(3).raw(b"u"), "params_ema is an int")
    raw("params_ema_list", Pickle().raw(b"}(").text("params_ema").raw(b"]").raw(b"u"), "params_ema is a list")
    raw("value_not_tensor", Pickle().raw(b"}(").text("conv_first.weight").integer(3).raw(b"u"), "a value that is an int")
    raw("key_int", Pickle().raw(b"}(").integer(3).integer(3).raw(b"u"), "a key that is an int")
    raw("empty", b"", "an empty data.pkl")
    raw("proto_only", b"\x80\x02", "PROTO and nothing else")
    raw("no_stop", Pickle().raw(b"}").b, "no STOP opcode")
    raw("proto6", b"\x80\x06}.", "protocol 6")
    raw("proto0", b"\x80\x00}.", "protocol 0")
    raw("underflow", b"\x80\x02R.", "REDUCE on an empty stack")
    raw("underflow_mark", b"\x80\x02(R.", "REDUCE right after MARK")
    raw("setitems_odd", Pickle().raw(b"}(").text("a").raw(b"u"), "SETITEMS with an odd count")
    raw("setitem_list", Pickle().raw(b"]").text("a").text("b").raw(b"s"), "SETITEM on a list")
    raw("append_dict", Pickle().raw(b"}").text("a").raw(b"a"), "APPEND on a dict")
    raw("unclosed_mark", Pickle().raw(b"(}"), "MARK never closed")
    raw("pop_mark_empty", b"\x80\x021}.", "POP_MARK without MARK")
    raw("binget_unset", b"\x80\x02h\x07.", "BINGET of an unset memo")
    raw("long_binget", b"\x80\x02}q\x00j\xff\xff\xff\xff.", "LONG_BINGET 2^32-1")
    raw("memo_put_empty", b"\x80\x02q\x00}.", "BINPUT on an empty stack")
    raw("binunicode_huge", b"\x80\x02X\xff\xff\xff\xffab.", "BINUNICODE of 4 GiB")
    raw("binunicode8_huge", b"\x80\x02\x8d" + struct.pack("<Q", (1 << 63) + 5) + b"ab.", "BINUNICODE8 of 2^63 bytes")
    raw("binbytes8_huge", b"\x80\x02\x8e" + struct.pack("<Q", (1 << 64) - 1) + b"ab.", "BINBYTES8 of 2^64-1 bytes")
    raw("frame_huge", b"\x80\x04\x95" + struct.pack("<Q", (1 << 64) - 1) + b"}.", "FRAME of 2^64-1 bytes")
    raw("long1_wide", b"\x80\x02\x8a\xff" + b"\x01" * 255 + b".", "LONG1 of 255 bytes")
    raw("long4", b"\x80\x02\x8b\xff\xff\xff\x7f.", "LONG4 of 2 GiB")
    raw("binfloat_short", b"\x80\x02G\x00\x00", "BINFLOAT cut short")
    raw("unknown_opcode", b"\x80\x02}\xff.", "opcode 0xff")
    raw("deep_lists", b"\x80\x02" + b"]" * 300000 + b"a" * 299999 + b".", "300000 nested lists")
    raw("deep_marks", b"\x80\x02" + b"(" * 300000 + b"t" * 300000 + b".", "300000 nested tuples")
    raw("deep_dicts", b"\x80\x02" + b"}(X\x01\x00\x00\x00k" * 100000 + b"}" + b"u" * 100000 + b".", "100000 nested dicts")
    raw("self_list", b"\x80\x02]q\x00h\x00a.", "a list that contains itself")
    raw("self_dict", b"\x80\x02}q\x00(X\x01\x00\x00\x00kh\x00u.", "a dict that contains itself")
    raw("many_memo", b"\x80\x02}" + b"\x94" * 200000 + b".", "200000 MEMOIZE")
    raw("wide_tuple", b"\x80\x02(" + b"N" * 500000 + b"t.", "a 500000-element tuple")
    raw("rebuild_parameter_bad", Pickle().raw(b"}(").text("w").glob("torch._utils", "_rebuild_parameter").raw(b"(K\x01\x89}tR").raw(b"u"),
        "_rebuild_parameter of an int")
    raw("rebuild_tensor_5args", Pickle().raw(b"}(").text("w").glob("torch._utils", "_rebuild_tensor_v2").raw(b"(NK\x00)))tR").raw(b"u"),
        "_rebuild_tensor_v2 with 5 arguments")
    raw("persid_bad", Pickle().raw(b"}(").text("w").glob("torch._utils", "_rebuild_tensor_v2").raw(b"(").text("storage").raw(b"Q")
        .raw(b"K\x00(K\x01t(K\x01t\x89}tRu"), "BINPERSID of a string")
    raw("persid_short", Pickle().raw(b"}(").text("w").glob("torch._utils", "_rebuild_tensor_v2").raw(b"((").text("storage").raw(b"tQ")
        .raw(b"K\x00(K\x01t(K\x01t\x89}tRu"), "BINPERSID of a 1-tuple")
    return out


def zip_records(data):
    """Offsets of a ZIP's end record, ZIP64 records and central/local headers."""
    end = data.rfind(b"PK\x05\x06")
    rec = {"end": end}
    if end >= 20 and data[end - 20 : end - 16] == b"PK\x06\x07":
        rec["locator"] = end - 20
        rec["zip64"] = struct.unpack("<Q", data[end - 12 : end - 4])[0]
    cd = [i for i in range(len(data) - 4) if data[i : i + 4] == b"PK\x01\x02"]
    local = [i for i in range(len(data) - 4) if data[i : i + 4] == b"PK\x03\x04"]
    rec["central"], rec["local"] = cd, local
    return rec


def zip_structured(data):
    out = []
    rec = zip_records(data)

    def patch(name, at, fmt, value):
        new = bytearray(data)
        struct.pack_into(fmt, new, at, value)
        out.append((name, bytes(new), "%s = %d" % (name, value)))

    e = rec["end"]
    for v in [0, 1, 0xFFFF]:
        patch("end_entries%d" % v, e + 10, "<H", v)
        patch("end_disk%d" % v, e + 4, "<H", v)
    for v in [0, 1, 0xFFFFFFFF, len(data)]:
        patch("end_cd_size%d" % v, e + 12, "<I", v)
        patch("end_cd_offset%d" % v, e + 16, "<I", v)
    patch("end_comment_len", e + 20, "<H", 0xFFFF)
    if "locator" in rec:
        for v in [0, len(data), (1 << 64) - 1, rec["zip64"] + 1]:
            patch("locator_offset%d" % v, rec["locator"] + 8, "<Q", v)
        z = rec["zip64"]
        for v in [0, 1, (1 << 63), (1 << 64) - 1]:
            patch("zip64_entries%d" % v, z + 32, "<Q", v)
            patch("zip64_cd_size%d" % v, z + 40, "<Q", v)
            patch("zip64_cd_offset%d" % v, z + 48, "<Q", v)
    for i, c in enumerate(rec["central"][:3] + rec["central"][-1:]):
        for v in [1, 8, 12, 99]:
            patch("cd%d_method%d" % (i, v), c + 10, "<H", v)
        for v in [0, 1, 0x7FFFFFFF, 0xFFFFFFFF]:
            patch("cd%d_csize%d" % (i, v), c + 20, "<I", v)
            patch("cd%d_usize%d" % (i, v), c + 24, "<I", v)
            patch("cd%d_local%d" % (i, v), c + 42, "<I", v)
        for v in [0, 0xFFFF]:
            patch("cd%d_namelen%d" % (i, v), c + 28, "<H", v)
            patch("cd%d_extralen%d" % (i, v), c + 30, "<H", v)
        patch("cd%d_crc" % i, c + 16, "<I", 0xDEADBEEF)
    for i, l in enumerate(rec["local"][:2]):
        for v in [0, 0xFFFF]:
            patch("local%d_namelen%d" % (i, v), l + 26, "<H", v)
            patch("local%d_extralen%d" % (i, v), l + 28, "<H", v)
        patch("local%d_method99" % i, l + 8, "<H", 99)
    return out


def safetensors_file(header, payload):
    text = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + payload


def read_safetensors(path):
    data = read(path)
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def f32_to_f16(payload):
    values = struct.unpack("<%df" % (len(payload) // 4), payload)
    return struct.pack("<%de" % len(values), *values)


def f32_to_bf16(payload):
    return b"".join(payload[i + 2 : i + 4] for i in range(0, len(payload), 4))


def converted_safetensors(header, payload, dtype):
    """The same tensors in dtype (F16 or BF16), re-laid out."""
    new_header, new_payload = {}, bytearray()
    for name, e in header.items():
        if name == "__metadata__":
            new_header[name] = e
            continue
        b, end = e["data_offsets"]
        chunk = payload[b:end]
        chunk = f32_to_f16(chunk) if dtype == "F16" else f32_to_bf16(chunk)
        new_header[name] = {"dtype": dtype, "shape": e["shape"], "data_offsets": [len(new_payload), len(new_payload) + len(chunk)]}
        new_payload += chunk
    return new_header, bytes(new_payload)


def safetensors_structured(header, payload):
    out = []
    names = [n for n in header if n != "__metadata__"]
    first = names[0]

    def with_entry(label, change):
        h = json.loads(json.dumps(header))
        change(h[first])
        out.append(("entry_" + label, safetensors_file(h, payload), "first tensor: " + label))

    for d in ["F64", "I8", "U8", "BOOL", "I64", "F8_E4M3", "", "f32", 32, None, ["F32"]]:
        with_entry("dtype_%s" % d, lambda e, d=d: e.update(dtype=d))
    for s in [[-1], [1 << 62], [1 << 31, 1 << 31, 1 << 31], [1e10], ["2"], [2.5], [], [0], None, 7, [[2]],
              [18446744073709551615], [18446744073709551616], [1] * 10000]:
        with_entry("shape_%s" % json.dumps(s)[:30], lambda e, s=s: e.update(shape=s))
    b, end = header[first]["data_offsets"]
    for o in [[end, b], [0, 1 << 62], [-4, end], [b, end + 4], [b + 4, end + 4], [len(payload), len(payload) + end - b],
              [b, 18446744073709551615], [0.5, end], [b], [b, end, 0], None, "0,8", [b, 1e400]]:
        with_entry("offsets_%s" % json.dumps(o)[:30], lambda e, o=o: e.update(data_offsets=o))
    with_entry("extra_field", lambda e: e.update(extra=1))
    with_entry("not_object", lambda e: (e.clear()))

    def whole(label, header_bytes, body=payload):
        out.append(("header_" + label, safetensors_file(header_bytes, body), label))

    text = json.dumps(header, separators=(",", ":")).encode()
    whole("array", b"[]")
    whole("not_json", b"{this is not json}")
    whole("empty_object", b"{}")
    whole("empty_object_no_data", b"{}", b"")
    whole("unterminated_string", text[:-3] + b'"abc')
    whole("trailing_garbage", text + b"xyz")
    whole("trailing_spaces", text + b"        ")
    whole("nul_inside", text[:20] + b"\x00" + text[21:])
    whole("bad_escape", b'{"\\ud800":1}')
    whole("bad_utf8", b'{"\xff\xfe":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', payload[:4])
    whole("deep_arrays", b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}")
    whole("deep_objects", b'{"a":' + b'{"a":' * 100000 + b"1" + b"}" * 100001)
    whole("huge_number", b'{"a":{"dtype":"F32","shape":[1' + b"0" * 5000 + b'],"data_offsets":[0,4]}}', payload[:4])
    whole("duplicate_key", text[:-1] + b',"' + first.encode() + b'":' + json.dumps(header[first]).encode() + b"}")
    whole("metadata_int", b'{"__metadata__":{"a":1}}', b"")
    whole("metadata_list", b'{"__metadata__":[1,2]}', b"")
    whole("overlap", json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                 "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}).encode(), bytes(12))
    whole("hole", json.dumps({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                              "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}).encode(), bytes(12))
    whole("nan_values", json.dumps({n: header[n] for n in header}).encode(), b"\x00\x00\xc0\x7f" * (len(payload) // 4))
    for n in [0, 1, 7, len(text) - 1, len(text) + 1, (1 << 63), (1 << 64) - 1, 100 << 20, (100 << 20) + 1]:
        out.append(("header_len_%d" % n, struct.pack("<Q", n) + text + payload, "header length field %d" % n))
    return out


def ncnn_pair(header, payload, fp16):
    """Real-ESRGAN's ncnn layout of the tiny RRDBNet (basicsr names, 3→3, feat 4, grow 2, 2 blocks)."""
    def tensor(name):
        b, e = header[name]["data_offsets"]
        return header[name]["shape"], payload[b:e]

    convs = ["conv_first"]
    blocks = len({n.split(".")[1] for n in header if n.startswith("body.")})
    for bl in range(blocks):
        for r in range(1, 4):
            for c in range(1, 6):
                convs.append("body.%d.rdb%d.conv%d" % (bl, r, c))
    convs += ["conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"]
    lines, binary = ["Input data 0 1 data"], bytearray()
    for key in convs:
        shape, w = tensor(key + ".weight")
        _, bias = tensor(key + ".bias")
        lrelu = key.startswith("conv_up") or key == "conv_hr" or (key.startswith("body.") and not key.endswith("conv5"))
        if key in ("conv_up1", "conv_up2"):
            lines.append("Interp up_%s 1 1 a b 0=1 1=2.000000e+00 2=2.000000e+00" % key)
        n = len(w) // 4
        lines.append("Convolution %s 1 1 a b 0=%d 1=3 11=3 2=1 12=1 3=1 13=1 4=1 14=1 15=1 16=1 5=1 6=%d%s"
                     % (key.replace(".", "_"), shape[0], n, " 9=2 -23310=1,2.000000e-01" if lrelu else ""))
        if fp16:
            half = f32_to_f16(w)
            if n % 2:
                half += b"\x00\x00"
            binary += struct.pack("<I", 0x01306B47) + half
        else:
            binary += struct.pack("<I", 0) + w
        binary += bias
    text = "7767517\n%d %d\n%s\n" % (len(lines), len(lines) + 1, "\n".join(lines))
    return text.encode(), bytes(binary)


def ncnn_structured(param, binary):
    out = []  # (name, param, bin, what)
    lines = param.decode().split("\n")
    conv_lines = [i for i, l in enumerate(lines) if l.startswith("Convolution")]

    def with_line(name, index, new_line, what):
        ls = list(lines)
        ls[index] = new_line
        out.append((name, "\n".join(ls).encode(), binary, what))

    for which, i in [("first", conv_lines[0]), ("second", conv_lines[1]), ("last", conv_lines[-1])]:
        tokens = lines[i].split(" ")
        for key, values in [("0", ["0", "-1", "2147483647", "99999999999", "x", "", "4.5"]), ("1", ["0", "-3", "7", "2147483647"]),
                            ("4", ["0", "2"]), ("5", ["0"]), ("6", ["0", "-108", "9223372036854775807", "99999999999999999999", "1"]),
                            ("9", ["1", "3", "99"]), ("-23310", ["1,nan", "1,1e999", "0", "", "1,", "99999999999,1"])]:
            for v in values:
                new = [t for t in tokens if not t.startswith(key + "=")] + [key + "=" + v]
                with_line("%s_key%s_%s" % (which, key, v.replace(",", "_").replace(".", "p")[:20] or "empty"), i, " ".join(new),
                          "%s convolution %s=%s" % (which, key, v))
        with_line("%s_no_equals" % which, i, lines[i] + " 7", "%s convolution: a value without key" % which)
        with_line("%s_type_deconv" % which, i, lines[i].replace("Convolution", "Deconvolution"), "layer type Deconvolution")
        with_line("%s_blobs_neg" % which, i, lines[i].replace(" 1 1 a b", " -1 1 a b"), "n_in -1")
        with_line("%s_blobs_many" % which, i, lines[i].replace(" 1 1 a b", " 4096 4096 a b"), "4096 inputs and outputs")
        with_line("%s_blobs_huge" % which, i, lines[i].replace(" 1 1 a b", " 2147483647 1 a b"), "2^31-1 inputs")
        with_line("%s_only_type" % which, i, "Convolution", "a layer line with only its type")
    with_line("magic_wrong", 0, "7767518", "wrong magic")
    with_line("magic_empty", 0, "", "empty first line")
    for counts in ["0 0", "-1 5", "2147483647 1", "1 1", "%d" % (len(conv_lines) + 2), "x y", "40 -1"]:
        with_line("counts_%s" % counts.replace(" ", "_").replace("-", "m"), 1, counts, "header counts '%s'" % counts)
    interp = [i for i, l in enumerate(lines) if l.startswith("Interp")]
    with_line("interp_dropped", interp[0], "Split s 1 2 a b c", "one Interp replaced")
    with_line("long_line", conv_lines[2], lines[conv_lines[2]] + " " + "7=1" * 300000, "a 1 MB layer line")
    with_line("nul_line", conv_lines[2], lines[conv_lines[2]].replace("0=", "0\x00="), "a NUL inside a line")
    crlf = param.replace(b"\n", b"\r\n")
    out.append(("crlf", crlf, binary, "CRLF line ends"))
    out.append(("one_conv_less", b"\n".join(param.split(b"\n")[:conv_lines[-1]] + param.split(b"\n")[conv_lines[-1] + 1 :]), binary,
                "the last convolution line removed"))
    for tag in [0x000D4B38, 0x0002C056, 0x01306B48, 0xFFFFFFFF, 1]:
        b = bytearray(binary)
        struct.pack_into("<I", b, 0, tag)
        out.append(("bin_tag_%08x" % tag, param, bytes(b), "first weight tag %#x" % tag))
    for extra in [1, 4, 4096]:
        out.append(("bin_extra_%d" % extra, param, binary + bytes(extra), "%d bytes after the last layer" % extra))
    out.append(("bin_empty", param, b"", "an empty .bin"))
    nan = bytearray(binary)
    nan[4:8] = b"\x00\x00\xc0\x7f"
    out.append(("bin_nan", param, bytes(nan), "a NaN weight"))
    return out


# ---- main -----------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="output folder (emptied first)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--quick", action="store_true", help="about a fifth of the random cases; every structured one")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    os.makedirs(os.path.join(args.out, "valid"))
    cases = Cases(args.out)
    # per seed: (truncations, flips); weights have fewer seeds, so more each
    img_trunc, img_flip = (4, 8) if args.quick else (24, 44)
    w_trunc, w_flip = (6, 8) if args.quick else (24, 45)
    dense = 4 if args.quick else 16

    def thin(variants, step=4):  # quick mode: every step-th header corruption
        return variants[::step] if args.quick else variants

    # What the runs need intact.
    shutil.copy(os.path.join(WEIGHTS, "tiny_fp16.pth"), os.path.join(args.out, "valid", "tiny.pth"))
    with open(os.path.join(args.out, "valid", "small.png"), "wb") as f:
        f.write(make_png(12, 10, 8, 2, 3, lambda x, y, c: (x * 20 + y * 13 + c * 70) % 256))

    # ---- images
    seeds = [(n, read(os.path.join(IMAGES, n))) for n in FIXTURE_IMAGES]
    seeds += sorted(own_image_seeds().items())
    for name, data in seeds:
        kind = image_kind(name, data)
        stem = os.path.basename(name).rsplit(".", 1)[0]
        ext = "." + name.rsplit(".", 1)[1]
        hot = [(0, 64)]
        if kind.startswith("tiff"):
            hot += [(at, at + 2 + 12 * len(entries) + 4) for at, entries in tiff_ifds(data)]
        sub_rng = random.Random("%d:%s" % (args.seed, name))  # one seed's cases do not shift when another changes
        cases.add(kind, image_run(name), "%s_intact%s" % (stem, ext), data, name, "intact seed")
        add_generic(cases, kind, image_run(name), stem, ext, data, name, sub_rng, img_trunc, img_flip, hot, dense=dense)
    structured = {"png/u8_rgb.png": png_structured, "png/u16_gray.png": png_structured, "gen_u16_rgb.png": png_structured,
                  "jpeg/rgb.jpg": jpeg_structured, "jpeg/gray.jpg": jpeg_structured, "bmp/rgb.bmp": bmp_structured,
                  "bmp/gray.bmp": bmp_structured}
    for name, fn in structured.items():
        data = dict(seeds)[name]
        stem = os.path.basename(name).rsplit(".", 1)[0]
        for label, damaged, what in thin(fn(data)):
            cases.add(image_kind(name, data), image_run(name), "%s_h_%s.%s" % (stem, label, name.rsplit(".", 1)[1]), damaged, name, what)
    tiff_pages = [("tiff/u8_rgb_deflate_strips.tif", [0]), ("tiff/u16_rgba_lzw_tiles.tif", [0]), ("tiff/u16_12bit_smax.tif", [0]),
                  ("tiff/u8_palette.tif", [0]), ("gen_u16_gray_4pages_deflate.tif", [0, -1]), ("gen_u8_rgb_3pages.tif", [-1])]
    for name, pages in tiff_pages:
        data = dict(seeds)[name]
        stem = os.path.basename(name).rsplit(".", 1)[0]
        for page in pages:
            for label, damaged, what in thin(tiff_structured(data, page)):
                cases.add(image_kind(name, data), image_run(name), "%s_h_%s.tif" % (stem, label), damaged, name, what)

    # ---- .pth: truncations and flips of real torch.save files, ZIP records, the pickle inside
    for name in ["tiny_fp16.pth", "tiny_esrgan2019.pth", "tiny_sequential.pth", "tiny_basicsr_params_ema.pth",
                 "special_tensors_deflated.pth"]:
        data = read(os.path.join(WEIGHTS, name))
        rec = zip_records(data)
        hot = [(0, 3000)] + [(c, c + 120) for c in rec["central"]] + [(len(data) - 200, len(data))]
        sub_rng = random.Random("%d:%s" % (args.seed, name))
        add_generic(cases, "pth", "weights", name[:-4], ".pth", data, name, sub_rng, w_trunc, w_flip, hot)
    base = read(os.path.join(WEIGHTS, "tiny_fp16.pth"))
    for label, damaged, what in thin(zip_structured(base), 2):
        cases.add("pth", "weights", "zip_%s.pth" % label, damaged, "tiny_fp16.pth", what)
    root, tensors, storages = read_torch_archive(os.path.join(WEIGHTS, "tiny_fp16.pth"))
    original_pickle = Pickle().state_dict(tensors).done()
    cases.add("pth", "weights", "rebuilt_intact.pth", torch_zip(original_pickle, storages), "tiny_fp16.pth",
              "the tiny model re-pickled by this script (must load)")
    for label, pkl, what in pickle_structured(tensors):
        cases.add("pickle", "weights", "pickle_%s.pth" % label, torch_zip(pkl, storages), "tiny_fp16.pth", what)
    pk_rng = random.Random("%d:pickle" % args.seed)
    for i in range(15 if args.quick else 80):
        damaged, how = flip(original_pickle, pk_rng)
        cases.add("pickle", "weights", "pickle_flip%03d.pth" % i, torch_zip(damaged, storages), "tiny_fp16.pth", "pickle " + how)
    odd = dict(storages)
    odd[tensors[0][2]] = storages[tensors[0][2]][:-1]
    cases.add("pickle", "weights", "pickle_storage_odd_bytes.pth", torch_zip(original_pickle, odd), "tiny_fp16.pth",
              "a storage one byte short")
    nan = dict(storages)
    nan[tensors[0][2]] = b"\x00\x7e" + storages[tensors[0][2]][2:]
    cases.add("pickle", "weights", "pickle_storage_nan.pth", torch_zip(original_pickle, nan), "tiny_fp16.pth", "a NaN weight")
    missing = {k: v for k, v in storages.items() if k != tensors[-1][2]}
    cases.add("pickle", "weights", "pickle_storage_missing.pth", torch_zip(original_pickle, missing), "tiny_fp16.pth",
              "a storage missing")
    cases.add("pickle", "weights", "pickle_two_roots.pth", torch_zip(original_pickle, storages, extra_entries=[("other/data.pkl", b"\x80\x02}.")]),
              "tiny_fp16.pth", "two data.pkl entries")
    cases.add("pickle", "weights", "pickle_byteorder_big.pth",
              torch_zip(original_pickle, storages, extra_entries=[("x/byteorder", "big")]), "tiny_fp16.pth", "a stray byteorder")
    for label, pkl, what in hostile_pickles():
        cases.add("pickle-hostile", "weights", "hostile_%s.pth" % label, torch_zip(pkl, storages), "(written here)", what)

    # ---- safetensors
    header, payload = read_safetensors(os.path.join(WEIGHTS, "tiny_basicsr.safetensors"))
    st_seeds = [("tiny_basicsr.safetensors", read(os.path.join(WEIGHTS, "tiny_basicsr.safetensors"))),
                ("mixed_dtypes.safetensors", read(os.path.join(WEIGHTS, "mixed_dtypes.safetensors")))]
    for dtype in ["F16", "BF16"]:
        h, p = converted_safetensors(header, payload, dtype)
        st_seeds.append(("gen_tiny_%s.safetensors" % dtype.lower(), safetensors_file(h, p)))
    for name, data in st_seeds:
        n = struct.unpack("<Q", data[:8])[0]
        sub_rng = random.Random("%d:%s" % (args.seed, name))
        if name.startswith("gen_"):
            cases.add("safetensors", "weights", name, data, "(written here)", "intact seed (must load)")
        add_generic(cases, "safetensors", "weights", name[: -len(".safetensors")], ".safetensors", data, name, sub_rng,
                    w_trunc // 2, w_flip // 2 + 5, [(0, 8 + n)])
    for i, (label, damaged, what) in enumerate(thin(safetensors_structured(header, payload), 2)):
        label = "".join(c if c.isalnum() or c in "_-" else "_" for c in label)
        cases.add("safetensors", "weights", "st_%03d_%s.safetensors" % (i, label), damaged, "tiny_basicsr.safetensors", what)

    # ---- ncnn .param/.bin pairs
    for fp16 in [False, True]:
        param, binary = ncnn_pair(header, payload, fp16)
        stem = "tiny_%s" % ("fp16" if fp16 else "fp32")
        cases.add("ncnn", "ncnn", stem + "_intact.param", param, "(written here)", "intact seed (must load)", binary)
        sub_rng = random.Random("%d:%s" % (args.seed, stem))
        for n in truncation_offsets(len(param), w_trunc // 2, sub_rng):
            cases.add("ncnn", "ncnn", "%s_param_cut%05d.param" % (stem, n), param[:n], stem, "param truncated to %d" % n, binary)
        for n in truncation_offsets(len(binary), w_trunc // 2, sub_rng):
            cases.add("ncnn", "ncnn", "%s_bin_cut%05d.param" % (stem, n), param, stem, "bin truncated to %d" % n, binary[:n])
        for i in range(w_flip // 2):
            damaged, how = flip(param, sub_rng)
            cases.add("ncnn", "ncnn", "%s_param_flip%03d.param" % (stem, i), damaged, stem, "param " + how, binary)
        for i in range(w_flip // 4):
            damaged, how = flip(binary, sub_rng, [(0, 64)])
            cases.add("ncnn", "ncnn", "%s_bin_flip%03d.param" % (stem, i), param, stem, "bin " + how, damaged)
        for label, p, b, what in thin(ncnn_structured(param, binary), 3):
            cases.add("ncnn", "ncnn", "%s_h_%s.param" % (stem, label), p, stem, what, b)

    cases.write_manifest()
    counts = {}
    for kind, *_ in cases.rows:
        counts[kind] = counts.get(kind, 0) + 1
    print("make_damaged_files: %d files in %s (%s)" % (len(cases.rows), args.out,
          ", ".join("%s %d" % kv for kv in sorted(counts.items()))), file=sys.stderr)


if __name__ == "__main__":
    main()
