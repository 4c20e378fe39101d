#!/bin/sh
# Checks that the objects compiled with an instruction set's flags (*_avx2.cpp, *_avx512.cpp:
# kernels/cpu/cpu_isa.h) define no weak code symbols. A weak (COMDAT) function — an inline
# function or template instance emitted there — is compiled with that set's flags, and the linker
# keeps one copy per program, maybe this one, for every caller: a baseline CPU would then run an
# AVX2 instruction outside the run-time check. Code in an anonymous namespace is local ("t"), and
# the kernels' own entry points are strong ("T"), so neither counts.
# Usage: tools/check_isa_objects.sh OBJECT... (ctest runs it on the microsr_kernels_* objects).
# Needs: nm (binutils).
status=0
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
