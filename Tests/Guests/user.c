/* Ring-3 entry for the exit benchmarks: TSS + iret with IOPL=3 (paging stays off). */
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
    __asm__ volatile(
        "ltr %w0\n\t"
        "movw %w1, %%ds\n\t"
        "movw %w1, %%es\n\t"
        "movw %w1, %%fs\n\t"
        "movw %w1, %%gs\n\t"
        "pushl %1\n\t"            /* ss */
        "pushl %2\n\t"            /* esp */
        "pushl $0x3002\n\t"       /* eflags: IOPL=3, IF=0 */
        "pushl %3\n\t"            /* cs */
        "pushl %4\n\t"            /* eip */
        "iret"
        :: "r"(SEL_TSS), "r"(SEL_UDATA), "r"(&ustack[1024]), "i"(SEL_UCODE), "r"(fn)
        : "memory");
    __builtin_unreachable();
}
