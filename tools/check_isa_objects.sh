#!/bin/sh
# Checks that the objects compiled with an instruction set's flags (*_avx2.cpp, *_avx512.cpp:
# kernels/cpu/cpu_isa.h) define no weak code symbols. A weak (COMDAT) function — an inline
# function or template instance emitted there — is compiled with that set's flags, and the linker
# keeps one copy per program, maybe this one, for every caller: a baseline CPU would then run an
# AVX2 instruction outside the run-time check. Code in an anonymous namespace is local ("t"), and
# the kernels' own entry points are strong ("T"), so neither counts.
# Usage: tools/check_isa_objects.sh OBJECT... (ctest runs it on the microsr_kernels_* objects).
#        tools/check_isa_objects.sh --baseline OBJECT...  checks instead that objects meant for
#        baseline x86-64 (the rest of the library) hold no AVX instruction at all: no ymm/zmm or
#        opmask register, no VEX-encoded (v-prefixed) SSE instruction.
# Needs: nm, objdump (binutils).
status=0
if [ "$1" = "--baseline" ]; then
  shift
  for object in "$@"; do
    found=$(objdump -d --no-show-raw-insn "$object" | grep -E "$(printf '\t')v[a-z0-9]+ .*%[xyz]mm|%[yz]mm|%k[0-7]" | head -3)
    if [ -n "$found" ]; then
      echo "$object is compiled for baseline x86-64 but holds AVX instructions:"
      echo "$found" | sed 's/^/  /'
      status=1
    fi
  done
  [ "$status" -eq 0 ] && echo "checked $# baseline objects: no AVX instructions"
  exit $status
fi
for object in "$@"; do
  weak=$(nm --defined-only "$object" | awk '$2 == "W" { print $3 }')
  if [ -n "$weak" ]; then
    echo "$object defines weak code that another translation unit could end up calling:"
    echo "$weak" | c++filt | sed 's/^/  /'
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "checked $# ISA objects: no weak code symbols"
exit $status
