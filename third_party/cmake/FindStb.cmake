# Finds the stb single-file headers from Debian's libstb-dev (/usr/include/stb).
# stb_image / stb_image_write are header-only: microsr compiles their implementation
# once, in src/io/stb_impl.cpp. Nothing of stb is copied into this repository.
find_path(Stb_INCLUDE_DIR NAMES stb_image.h PATH_SUFFIXES stb)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Stb REQUIRED_VARS Stb_INCLUDE_DIR)
if(Stb_FOUND AND NOT TARGET Stb::Stb)
  add_library(Stb::Stb INTERFACE IMPORTED)
  set_target_properties(Stb::Stb PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${Stb_INCLUDE_DIR}")
endif()
