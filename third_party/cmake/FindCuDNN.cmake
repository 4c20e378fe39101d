# Finds cuDNN 9: in the CUDA toolkit (/usr/local/cuda), Debian/NVIDIA packages (/usr/include,
# /usr/lib/x86_64-linux-gnu) or a pip wheel (nvidia-cudnn-cu13, the one PyTorch uses:
# <site-packages>/nvidia/cudnn/{include,lib}, which holds only the versioned libcudnn.so.9).
# For the wheel, pass CUDNN_ROOT = that nvidia/cudnn folder or the site-packages folder above it,
# or set CuDNN_INCLUDE_DIR and CuDNN_LIBRARY directly (tools/gpu_check.sh does).
# NAMES_PER_DIR: the hinted folder is searched for both names before any system folder, so a
# wheel's libcudnn.so.9 wins over a system libcudnn.so when CUDNN_ROOT points at the wheel.
# Sets CuDNN_VERSION (major.minor.patch, from cudnn_version.h) when the header says it.
find_path(CuDNN_INCLUDE_DIR NAMES cudnn.h
  HINTS ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDAToolkit_INCLUDE_DIRS}
  PATH_SUFFIXES include include/x86_64-linux-gnu nvidia/cudnn/include)
find_library(CuDNN_LIBRARY NAMES cudnn libcudnn.so.9 NAMES_PER_DIR
  HINTS ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDAToolkit_LIBRARY_DIR}
  PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu nvidia/cudnn/lib)
if(CuDNN_INCLUDE_DIR AND EXISTS "${CuDNN_INCLUDE_DIR}/cudnn_version.h")
  file(STRINGS "${CuDNN_INCLUDE_DIR}/cudnn_version.h" _cudnn_defines
       REGEX "^#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) +[0-9]+")
  foreach(_part MAJOR MINOR PATCHLEVEL)
    string(REGEX REPLACE ".*#define CUDNN_${_part} +([0-9]+).*" "\\1" _cudnn_${_part} "${_cudnn_defines}")
  endforeach()
  set(CuDNN_VERSION "${_cudnn_MAJOR}.${_cudnn_MINOR}.${_cudnn_PATCHLEVEL}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CuDNN REQUIRED_VARS CuDNN_INCLUDE_DIR CuDNN_LIBRARY
  VERSION_VAR CuDNN_VERSION)
if(CuDNN_FOUND AND NOT TARGET CuDNN::CuDNN)
  add_library(CuDNN::CuDNN UNKNOWN IMPORTED)
  set_target_properties(CuDNN::CuDNN PROPERTIES
    IMPORTED_LOCATION "${CuDNN_LIBRARY}" INTERFACE_INCLUDE_DIRECTORIES "${CuDNN_INCLUDE_DIR}")
endif()
