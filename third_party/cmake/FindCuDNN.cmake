# Finds cuDNN 9: in the CUDA toolkit (/usr/local/cuda), Debian/NVIDIA packages (/usr/include,
# /usr/lib/x86_64-linux-gnu) or a pip wheel (nvidia/cudnn/{include,lib}, pass CUDNN_ROOT).
find_path(CuDNN_INCLUDE_DIR NAMES cudnn.h
  HINTS ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDAToolkit_INCLUDE_DIRS}
  PATH_SUFFIXES include include/x86_64-linux-gnu)
find_library(CuDNN_LIBRARY NAMES cudnn libcudnn.so.9
  HINTS ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDAToolkit_LIBRARY_DIR}
  PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CuDNN REQUIRED_VARS CuDNN_INCLUDE_DIR CuDNN_LIBRARY)
if(CuDNN_FOUND AND NOT TARGET CuDNN::CuDNN)
  add_library(CuDNN::CuDNN UNKNOWN IMPORTED)
  set_target_properties(CuDNN::CuDNN PROPERTIES
    IMPORTED_LOCATION "${CuDNN_LIBRARY}" INTERFACE_INCLUDE_DIRECTORIES "${CuDNN_INCLUDE_DIR}")
endif()
