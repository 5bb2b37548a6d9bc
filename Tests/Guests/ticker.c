/* ticker: a guest whose liveness shows from outside, for bench/migration.py. The PIT
 * (channel 0, mode 2, divisor 1193: ~1 kHz, IOAPIC pin 2) interrupts every millisecond
 * and the handler writes one '.' to COM1, so a host reading the console sees a byte per
 * millisecond for as long as the guest runs; a migration's downtime is the gap between
 * the source's last byte and the destination's first one, minus the tick period.
 *
 * touch=N: first write a non-zero word into each 4 KiB page of N MiB from 4 MiB up, so
 * neither VMM can skip them as zero pages (both then send the whole page). dirty=N: then,
 * between ticks, keep rewriting N MiB from 4 MiB up, one 32-bit store per page (a page is
 * dirty for the migration whatever part of it is written). One store per page, not
 * `rep stosl`: on PVM guest kernel mode is emulated instruction by instruction (a string
 * store iteration by iteration), and one store per page is the fastest toucher and
 * dirtier this host allows (~15-20 us a page). Both are clamped to the RAM above 4 MiB
 * that multiboot's mem_upper reports.
 *
 * Lines: "ticker: touched N MiB", then with dirty=N, after one second (1000 ticks) of
 * dirtying without output, "ticker: dirtying N MiB over M MiB/s" (pages written in that
 * second, in MiB), then "ticker: ready" and from then on only '.' bytes, one per tick. */
#include "rt.h"

#define VEC_PIT 0x41
#define BASE 0x400000u
#define PAGE 4096u

static volatile u32 nticks;
static volatile u32 ticking;

ISR_FN void pit_tick(void)
{
    nticks++;
    if (ticking) pchar('.');
    lapic_eoi();
}
DEFINE_ISR(pit_isr, pit_tick);

/* MiB above 4 MiB that RAM holds (multiboot mem_upper: KiB above 1 MiB). */
static u32 clamp_mib(const struct mb_info *mbi, u32 mib)
{
    if (!(mbi->flags & 1)) return mib;
    u32 end_kib = 1024 + mbi->mem_upper;
    u32 max = end_kib > BASE / 1024 ? (end_kib - BASE / 1024) / 1024 : 0;
    return mib > max ? max : mib;
}

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic;
    u32 touch = clamp_mib(mbi, cmdline_uint(mbi, "touch", 0));
    u32 dirty = clamp_mib(mbi, cmdline_uint(mbi, "dirty", 0));
    for (u32 p = 0; p < touch << 8; p++)
        ((volatile u32 *)(BASE + p * PAGE))[0] = 0x71c4e271u;
    pstr("ticker: touched "); pdec(touch); pstr(" MiB\n");

    pic_mask();
    idt_set(VEC_PIT, pit_isr);
    idt_load();
    lapic_enable();
    outb(0x43, 0x34);                                     /* ch0, lo/hi, mode 2 */
    outb(0x40, 1193 & 0xff);
    outb(0x40, 1193 >> 8);
    ioapic_route(2, VEC_PIT, 0, lapic_id());

    if (!dirty) {
        pstr("ticker: ready\n");
        ticking = 1;
        for (;;)
            sti_hlt();
    }
    u32 pages = dirty << 8, page = 0, gen = 1, written = 0;
    int measuring = 1;
    __asm__ volatile("sti" ::: "memory");
    for (;;) {
        ((volatile u32 *)(BASE + page * PAGE))[0] = gen;
        if (++page == pages) { page = 0; gen++; }
        if (measuring) {
            written++;
            if (nticks >= 1000) {
                measuring = 0;
                cli();
                pstr("ticker: dirtying "); pdec(dirty); pstr(" MiB over ");
                pdec(written >> 8); pstr(" MiB/s\nticker: ready\n");
                ticking = 1;
                __asm__ volatile("sti" ::: "memory");
            }
        }
    }
}
