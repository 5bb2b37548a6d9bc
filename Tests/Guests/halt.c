/* halt: the cheapest running guest, for the density benchmark (bench/density.py): prints
 * "halt: up", masks the PICs and halts with interrupts off for ever. No timer ticks, so
 * its vCPU sleeps in the kernel and never exits again: thousands of them cost no CPU. */
#include "rt.h"

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    pstr("halt: up\n");
    pic_mask();
    cli();
    for (;;)
        __asm__ volatile("hlt" ::: "memory");
}
