// Which x86-64 instruction set the CPU kernels run with, chosen at run time.
//
// The library is compiled for baseline x86-64 (SSE2); each kernel that needs more lives in a
// translation unit of its own named after its instruction set (*_avx2.cpp, *_avx512.cpp), which
// CMakeLists.txt compiles with that set's flags. Callers pick the kernel with active_cpu_isa()
// before calling into such a file, so a CPU without AVX2 never executes an AVX2 instruction.
//
// Levels are ordered: each includes everything below it.
//   baseline     x86-64 (SSE2): scalar kernels (conv/baseline.cpp), the reference loops
//   avx2         AVX2 + FMA + F16C: the AVX2 kernels (conv v1..v4, wgrad, optimizer)
//   avx512       AVX-512 F/BW/VL/DQ: the AVX-512 Winograd (conv v5)
//   avx512_bf16  + AVX512_BF16 (no kernel of its own yet: runs the avx512 kernels)
//   amx          + AMX-TILE/AMX-BF16, tile state granted by Linux (no kernel of its own yet)
// Detection checks the CPUID feature bits AND that the OS saves the registers' state (XCR0 via
// XGETBV: YMM for avx2; opmask/ZMM for avx512; tile config/data for amx, after asking Linux for
// permission with arch_prctl(ARCH_REQ_XCOMP_PERM)).
//
// MICROSR_CPU_ISA=baseline|avx2|avx512|avx512_bf16|amx lowers the level (never raises it: a level
// the CPU lacks is an error naming what it has). Read once, at the first active_cpu_isa().
#pragma once
#include <string>

namespace microsr::kernels {

enum class CpuIsa { kBaseline = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Bf16 = 3, kAmx = 4 };

// "baseline", "avx2", "avx512", "avx512_bf16", "amx".
const char* cpu_isa_name(CpuIsa isa);
// Every level, lowest first.
const CpuIsa* cpu_isa_levels(int* count);
// The highest level this CPU and OS support (detected once, cached).
CpuIsa detected_cpu_isa();
// Parses a level name; throws microsr::Error listing the names when it is none of them.
CpuIsa parse_cpu_isa(const std::string& name);
// The level to run for an override string (null or empty: `detected`); throws microsr::Error when
// the override asks for more than `detected`. Pure: what active_cpu_isa() applies to the env var.
CpuIsa resolve_cpu_isa(const char* override_value, CpuIsa detected);
// The level the kernels use: detected_cpu_isa() lowered by MICROSR_CPU_ISA (throws on a bad value).
CpuIsa active_cpu_isa();
// Sets the active level for the whole process (tests and benchmarks walking every path); throws
// microsr::Error above detected_cpu_isa(). Not for use while kernels run on other threads.
void set_active_cpu_isa(CpuIsa isa);
inline bool cpu_isa_at_least(CpuIsa isa) { return static_cast<int>(active_cpu_isa()) >= static_cast<int>(isa); }

// Lowers the active level for a scope, restoring the previous one at its end (tests, benchmarks).
class CpuIsaScope {
 public:
  explicit CpuIsaScope(CpuIsa isa) : saved_(active_cpu_isa()) { set_active_cpu_isa(isa); }
  ~CpuIsaScope() { set_active_cpu_isa(saved_); }
  CpuIsaScope(const CpuIsaScope&) = delete;
  CpuIsaScope& operator=(const CpuIsaScope&) = delete;

 private:
  CpuIsa saved_;
};

}  // namespace microsr::kernels
