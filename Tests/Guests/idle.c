/* idle: an idle guest for the snapshot benchmarks (bench/snapshot.py). Writes touch=N MiB
 * (default 64) from 4 MiB up with one `rep stosl` (on PVM guest ring 0 is emulated
 * instruction by instruction: a C loop would take far longer), a non-zero pattern so no
 * VMM can store the pages as zero pages, prints "idle: touched N MiB", then halts with
 * the LAPIC timer ticking (periodic, divide 16, initial count 100000) for ever. touch is
 * clamped to the RAM above 4 MiB that multiboot's mem_upper reports.
 * On the PVM host the first write to each guest page costs ~0.2-0.3 ms (doing the store
 * natively in ring 3 was tried: no faster), so touch=64 takes ~5-15 s. */
#include "rt.h"

#define VEC_LAPIC 0x40
#define TOUCH_BASE 0x400000u

static volatile u32 nlapic;

ISR_FN void lapic_timer(void) { nlapic++; lapic_eoi(); }
DEFINE_ISR(lapic_isr, lapic_timer);

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic;
    u32 mib = cmdline_uint(mbi, "touch", 64);
    if (mbi->flags & 1) {
        u32 end_kib = 1024 + mbi->mem_upper;              /* mem_upper: KiB from 1 MiB */
        u32 max = end_kib > TOUCH_BASE / 1024 ? (end_kib - TOUCH_BASE / 1024) / 1024 : 0;
        if (mib > max) mib = max;
    }
    u32 words = mib << 18;                                /* 4-byte words in mib MiB */
    u32 dst = TOUCH_BASE;
    __asm__ volatile("cld; rep stosl" : "+D"(dst), "+c"(words) : "a"(0x1d1e1d1eu) : "memory");
    pstr("idle: touched "); pdec(mib); pstr(" MiB\n");

    pic_mask();
    idt_set(VEC_LAPIC, lapic_isr);
    idt_load();
    lapic_enable();
    lapic_write(LAPIC_TIMER_DIV, 0x3);                    /* divide by 16 */
    lapic_write(LAPIC_LVT_TIMER, VEC_LAPIC | (1 << 17));  /* periodic */
    lapic_write(LAPIC_TIMER_INIT, 100000);
    for (;;)
        sti_hlt();
}
