/* cpuid: prints the CPUID registers that carry the features vmm can hide, so a test can
 * check that what vmm says it hides is hidden: "cpuid: 1.0 ecx=... edx=..." and "cpuid: 7.0 ebx=... ecx=... edx=...". */
#include "rt.h"

static void leaf(u32 function, u32 index)
{
    u32 a = function, b, c = index, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    pstr("cpuid: "); if (function >= 0x40000000u) { pstr("0x"); phex(function); } else pdec(function); pchar('.'); pdec(index);
    pstr(" eax="); phex(a); pstr(" ebx="); phex(b); pstr(" ecx="); phex(c); pstr(" edx="); phex(d); pchar('\n');
}

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic; (void)mbi;
    leaf(1, 0);
    leaf(7, 0);
    /* Not checked by the tests: the rest of what a guest kernel is offered (KVM's leaves,
     * extended features, invariant TSC), to compare VMMs by. */
    leaf(0x40000000, 0);
    leaf(0x40000001, 0);
    leaf(0x80000001, 0);
    leaf(0x80000007, 0);
    return 0;
}
