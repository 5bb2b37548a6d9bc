/* fault: no usable IDT + #UD (ud2) -> #GP -> #DF -> triple fault (shutdown). */
#include "rt.h"

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic; (void)mbi;
    struct { u16 limit; u32 base; } __attribute__((packed)) d = { 0, 0 };
    pstr("fault: triple faulting\n");
    __asm__ volatile("lidt %0; ud2" :: "m"(d));
    pstr("fault: still running\n");
    return 1;
}
