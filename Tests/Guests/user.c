/* Ring-3 entry for the exit benchmarks: sysexit with IOPL=3 (paging stays off). */
#include "rt.h"
#include "user.h"

static u32 tss[26];
static u32 ustack[1024];

void enter_user(void (*fn)(void))
{
    u32 base = (u32)tss, limit = sizeof(tss) - 1;
    tss[1] = (u32)&tss[26];      /* esp0 (unused: nothing traps in ring 3) */
    tss[2] = SEL_KDATA;          /* ss0 */
    tss[25] = sizeof(tss) << 16; /* I/O map base beyond the limit */
    u32 *d = (u32 *)(gdt + SEL_TSS);
    d[0] = (base << 16) | (limit & 0xffff);
    d[1] = (base & 0xff000000) | 0x8900 | ((base >> 16) & 0xff);
    /* No iret / far ret to ring 3 here: the KVM/PVM emulator cannot do an
     * outer-privilege return, but it does emulate sysexit:
     * CS = SYSENTER_CS + 16 (0x1b), SS = SYSENTER_CS + 24 (0x23). */
    __asm__ volatile(
        "wrmsr\n\t"                /* IA32_SYSENTER_CS = kernel CS */
        "ltr %w3\n\t"
        "movw %w4, %%ds\n\t"
        "movw %w4, %%es\n\t"
        "movw %w4, %%fs\n\t"
        "movw %w4, %%gs\n\t"
        "pushl $0x3002\n\t"        /* IOPL=3, IF=0 (survives sysexit) */
        "popfl\n\t"
        "movl %5, %%ecx\n\t"        /* user esp */
        "movl %6, %%edx\n\t"        /* user eip */
        "sysexit"
        :: "c"(0x174), "a"(SEL_KCODE), "d"(0), "r"(SEL_TSS), "r"(SEL_UDATA),
           "r"(&ustack[1024]), "r"(fn)
        : "memory");
    __builtin_unreachable();
}
