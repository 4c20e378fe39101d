// Multi-page TIFFs (issue 13, case 4): a stack or a time series is refused by name and page
// count, by every command (the check is in the TIFF reader), instead of having its first page
// processed and the rest dropped without a word; a reduced-resolution copy (a thumbnail) beside
// one image is not a page. Fixtures: tools/make_multipage_fixtures.py (tifffile).
#include <gtest/gtest.h>

#include "microsr/image_io.h"
#include "test_helpers.h"

using namespace microsr;
using namespace microsr::testing;

namespace {

TEST(MultiPageTiff, AStackIsRefusedWithItsPageCount) {
  const std::string path = data_path("images/tiff/pages_3.tif");
  expect_error([&] { read_image(path); }, "multi-page TIFF (3 full-resolution pages");
  expect_error([&] { read_image(path); }, "split it into one file per page");
}

TEST(MultiPageTiff, AThumbnailBesideOneImageIsNotAPage) {
  const Image img = read_image(data_path("images/tiff/with_thumbnail.tif"));
  ASSERT_EQ(img.width, 8);
  ASSERT_EQ(img.height, 6);
  ASSERT_EQ(img.channels, 3);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 6; ++y)
      for (int x = 0; x < 8; ++x)  // (7x + 11y + 3c) mod 256, the script's first page
        ASSERT_NEAR(img.plane(c)[y * 8 + x] * 255.0, (7 * x + 11 * y + 3 * c) % 256, 0.01) << c << " " << y << " " << x;
}

}  // namespace
