/* timer: counts LAPIC-timer (periodic) and PIT (IOAPIC pin 2) interrupts while halting. */
#include "rt.h"

#define VEC_LAPIC 0x40
#define VEC_PIT 0x41
static volatile u32 nlapic, npit;

ISR_FN void lapic_timer(void) { nlapic++; lapic_eoi(); }
ISR_FN void pit_timer(void) { npit++; lapic_eoi(); }
DEFINE_ISR(lapic_isr, lapic_timer);
DEFINE_ISR(pit_isr, pit_timer);

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic; (void)mbi;
    pic_mask();
    idt_set(VEC_LAPIC, lapic_isr);
    idt_set(VEC_PIT, pit_isr);
    idt_load();
    lapic_enable();
    lapic_write(LAPIC_TIMER_DIV, 0x3);                  /* divide by 16 */
    lapic_write(LAPIC_LVT_TIMER, VEC_LAPIC | (1 << 17)); /* periodic */
    lapic_write(LAPIC_TIMER_INIT, 100000);
    outb(0x43, 0x34);                                   /* ch0, lo/hi, mode 2 */
    outb(0x40, 1193 & 0xff);                            /* ~1 kHz */
    outb(0x40, 1193 >> 8);
    ioapic_route(2, VEC_PIT, 0, lapic_id());

    u64 end = rdtsc() + 5000000000ull;
    while ((nlapic < 10 || npit < 10) && rdtsc() < end)
        sti_hlt();
    cli();
    lapic_write(LAPIC_LVT_TIMER, 1 << 16);              /* mask */
    if (nlapic < 10 || npit < 10) {
        pstr("timer: timeout lapic="); pdec(nlapic); pstr(" pit="); pdec(npit); pchar('\n');
        return 1;
    }
    pstr("timer: lapic ok\ntimer: pit ok\n");
    return 0;
}
