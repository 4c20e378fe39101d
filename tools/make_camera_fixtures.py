"""A 12-bit camera frame in a 16-bit TIFF, for tests/test_camera_range.cpp, written by tifffile.

    tests/data/images/tiff/u16_12bit_smax.tif   8×6 gray uint16, samples ≤ 4095, with the tag
                                                SMaxSampleValue = 4095, as scientific cameras write

Sample (y, x) is (97·x + 211·y) mod 4096. Usage: /usr/bin/python3 tools/make_camera_fixtures.py
"""
import os

import numpy as np
import tifffile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "images", "tiff")


def main():
    y, x = np.meshgrid(np.arange(6), np.arange(8), indexing="ij")
    data = ((97 * x + 211 * y) % 4096).astype(np.uint16)
    tifffile.imwrite(os.path.join(OUT, "u16_12bit_smax.tif"), data, photometric="minisblack", metadata=None,
                     extratags=[(341, "d", 1, 4095.0, True)])  # 341: SMaxSampleValue, a double


if __name__ == "__main__":
    main()
