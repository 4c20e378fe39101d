#include "cpu/ref/onnx_ref.h"
namespace microsr::onnx_ref {
void add_matmul_ops(KernelTable&) {}
}
