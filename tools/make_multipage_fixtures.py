"""Multi-page TIFF fixtures for tests/test_multipage.cpp, written by tifffile (an independent writer).

    tests/data/images/tiff/pages_3.tif         three full-resolution 8×6 gray 8-bit pages (a stack):
                                               microsr must refuse it, naming the page count
    tests/data/images/tiff/with_thumbnail.tif  one 8×6 RGB 8-bit image and a 4×3 reduced-resolution
                                               copy (NewSubfileType 1, a thumbnail): one page, read

Pixel (c, y, x) of page p is (40·p + 7·x + 11·y + 3·c) mod 256. Usage: /usr/bin/python3 tools/make_multipage_fixtures.py
"""
import os

import numpy as np
import tifffile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "images", "tiff")


def page(p, height, width, channels):
    y, x, c = np.meshgrid(np.arange(height), np.arange(width), np.arange(channels), indexing="ij")
    return ((40 * p + 7 * x + 11 * y + 3 * c) % 256).astype(np.uint8)


def main():
    with tifffile.TiffWriter(os.path.join(OUT, "pages_3.tif")) as tif:
        for p in range(3):
            tif.write(page(p, 6, 8, 1)[:, :, 0], photometric="minisblack", metadata=None)
    with tifffile.TiffWriter(os.path.join(OUT, "with_thumbnail.tif")) as tif:
        tif.write(page(0, 6, 8, 3), photometric="rgb", metadata=None)
        tif.write(page(0, 3, 4, 3), photometric="rgb", subfiletype=1, metadata=None)


if __name__ == "__main__":
    main()
