// Run-time instruction-set detection (cpu_isa.h). Compiled for baseline x86-64 like the rest of
// the library: CPUID and XGETBV are issued through <cpuid.h> and inline asm, which need no flags.
#include "cpu/cpu_isa.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>

#include "microsr/error.h"

namespace microsr::kernels {
namespace {

constexpr CpuIsa kLevels[] = {CpuIsa::kBaseline, CpuIsa::kAvx2, CpuIsa::kAvx512, CpuIsa::kAvx512Bf16, CpuIsa::kAmx};

struct CpuidRegisters {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};

CpuidRegisters cpuid(unsigned leaf, unsigned subleaf) {
  CpuidRegisters r;
  if (!__get_cpuid_count(leaf, subleaf, &r.eax, &r.ebx, &r.ecx, &r.edx)) return {};  // leaf not supported
  return r;
}

bool bit(unsigned value, int index) { return (value >> index) & 1u; }

// XCR0: which register states the OS saves and restores on a context switch.
uint64_t xcr0() {
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

// Linux (5.16+) hands out the AMX tile-data state only to processes that ask for it; without the
// grant the first tile instruction faults. Asking is harmless when it was already granted.
bool request_amx_permission() {
  constexpr long kArchReqXcompPerm = 0x1023;  // ARCH_REQ_XCOMP_PERM (asm/prctl.h)
  constexpr long kXfeatureXtiledata = 18;     // XFEATURE_XTILEDATA
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

CpuIsa detect() {
  const CpuidRegisters leaf1 = cpuid(1, 0);
  const bool osxsave = bit(leaf1.ecx, 27), avx = bit(leaf1.ecx, 28);
  const bool fma = bit(leaf1.ecx, 12), f16c = bit(leaf1.ecx, 29);
  if (!osxsave || !avx || !fma || !f16c) return CpuIsa::kBaseline;
  const uint64_t os_state = xcr0();
  if ((os_state & 0x6) != 0x6) return CpuIsa::kBaseline;  // XMM + YMM state
  const CpuidRegisters leaf7 = cpuid(7, 0);
  if (!bit(leaf7.ebx, 5)) return CpuIsa::kBaseline;  // AVX2
  // AVX-512 F, DQ, BW, VL, and the OS saving opmask + both ZMM halves (XCR0 bits 5..7).
  const bool avx512 = bit(leaf7.ebx, 16) && bit(leaf7.ebx, 17) && bit(leaf7.ebx, 30) && bit(leaf7.ebx, 31) &&
                      (os_state & 0xE0) == 0xE0;
  if (!avx512) return CpuIsa::kAvx2;
  const bool bf16 = bit(cpuid(7, 1).eax, 5);
  if (!bf16) return CpuIsa::kAvx512;
  // AMX-TILE (EDX bit 24) + AMX-BF16 (bit 22), tile config + data in XCR0 (bits 17, 18), granted.
  const bool amx = bit(leaf7.edx, 24) && bit(leaf7.edx, 22) && (os_state & 0x60000) == 0x60000;
  if (!amx || !request_amx_permission()) return CpuIsa::kAvx512Bf16;
  return CpuIsa::kAmx;
}

std::atomic<int> active_level{-1};  // -1: not read from the environment yet

std::string level_names() {
  std::string names;
  for (CpuIsa isa : kLevels) names += (names.empty() ? "" : ", ") + std::string(cpu_isa_name(isa));
  return names;
}

}  // namespace

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kBaseline:
      return "baseline";
    case CpuIsa::kAvx2:
      return "avx2";
    case CpuIsa::kAvx512:
      return "avx512";
    case CpuIsa::kAvx512Bf16:
      return "avx512_bf16";
    case CpuIsa::kAmx:
      return "amx";
  }
  return "?";
}

const CpuIsa* cpu_isa_levels(int* count) {
  *count = static_cast<int>(sizeof(kLevels) / sizeof(kLevels[0]));
  return kLevels;
}

CpuIsa detected_cpu_isa() {
  static const CpuIsa detected = detect();
  return detected;
}

CpuIsa parse_cpu_isa(const std::string& name) {
  for (CpuIsa isa : kLevels)
    if (name == cpu_isa_name(isa)) return isa;
  throw Error("unknown CPU instruction set '" + name + "' (MICROSR_CPU_ISA); expected one of " + level_names());
}

CpuIsa resolve_cpu_isa(const char* override_value, CpuIsa detected) {
  if (!override_value || !*override_value) return detected;
  const CpuIsa wanted = parse_cpu_isa(override_value);
  if (static_cast<int>(wanted) > static_cast<int>(detected))
    throw Error(std::string("MICROSR_CPU_ISA=") + override_value + " asks for more than this CPU supports (" +
                cpu_isa_name(detected) + "); choose one of the levels up to " + cpu_isa_name(detected) +
                " or unset it");
  return wanted;
}

CpuIsa active_cpu_isa() {
  int level = active_level.load(std::memory_order_relaxed);
  if (level < 0) {
    level = static_cast<int>(resolve_cpu_isa(std::getenv("MICROSR_CPU_ISA"), detected_cpu_isa()));
    active_level.store(level, std::memory_order_relaxed);
  }
  return static_cast<CpuIsa>(level);
}

void set_active_cpu_isa(CpuIsa isa) {
  const CpuIsa detected = detected_cpu_isa();
  require(static_cast<int>(isa) <= static_cast<int>(detected),
          std::string("set_active_cpu_isa: ") + cpu_isa_name(isa) + " is above what this CPU supports (" +
              cpu_isa_name(detected) + ")");
  active_level.store(static_cast<int>(isa), std::memory_order_relaxed);
}

}  // namespace microsr::kernels
