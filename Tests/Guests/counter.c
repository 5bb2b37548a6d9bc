/* counter: a guest whose progress a snapshot must preserve. Each step is 10 LAPIC timer
 * ticks (PIT ticks are counted too); at each step it checks a checksum over memory it
 * keeps changing, then prints "counter: step N pit P sum S". A restored guest must go on
 * from the saved step with a matching checksum, its timers still ticking. Stops with
 * debug-exit 0 after steps=N (cmdline, default 1000000).
 * churn=P: instead of halting between steps, keep sweeping P pages from 32 MiB up,
 * writing the sweep number into the first word of each, and check at every step that
 * the pages sweep so far hold the current number and the rest the one before: memory
 * the guest keeps writing while a snapshot copies it must come back exactly as left. */
#include "rt.h"

#define VEC_LAPIC 0x40
#define VEC_PIT 0x41
#define AREA ((volatile u32 *)0x800000)
#define AREA_WORDS 4096
#define PAGES ((volatile u32 *)0x1000000)   /* one word in each of 64 pages, 16 MiB up */
#define PAGE_WORDS 1024
#define PAGE_COUNT 64
#define CHURN ((volatile u32 *)0x2000000)

static volatile u32 nlapic, npit;

ISR_FN void lapic_timer(void) { nlapic++; lapic_eoi(); }
ISR_FN void pit_timer(void) { npit++; lapic_eoi(); }
DEFINE_ISR(lapic_isr, lapic_timer);
DEFINE_ISR(pit_isr, pit_timer);

static u32 checksum(void)
{
    u32 sum = 0;
    for (u32 i = 0; i < AREA_WORDS; i++) sum = (sum << 1 | sum >> 31) ^ AREA[i];
    for (u32 i = 0; i < PAGE_COUNT; i++) sum += PAGES[i * PAGE_WORDS];
    return sum;
}

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic;
    u32 steps = cmdline_uint(mbi, "steps", 1000000);
    for (u32 i = 0; i < AREA_WORDS; i++) AREA[i] = i * 2654435761u;
    for (u32 i = 0; i < PAGE_COUNT; i++) PAGES[i * PAGE_WORDS] = i;
    u32 expected = checksum();

    pic_mask();
    idt_set(VEC_LAPIC, lapic_isr);
    idt_set(VEC_PIT, pit_isr);
    idt_load();
    lapic_enable();
    lapic_write(LAPIC_TIMER_DIV, 0x3);
    lapic_write(LAPIC_LVT_TIMER, VEC_LAPIC | (1 << 17));
    lapic_write(LAPIC_TIMER_INIT, 100000);
    outb(0x43, 0x34);
    outb(0x40, 1193 & 0xff);
    outb(0x40, 1193 >> 8);
    ioapic_route(2, VEC_PIT, 0, lapic_id());
    pstr("counter: ready\n");

    u32 churn = cmdline_uint(mbi, "churn", 0);
    u32 gen = 1, pos = 0;                 /* pages [0, pos) hold gen, [pos, churn) gen - 1 */
    for (u32 i = 0; i < churn; i++) CHURN[i * PAGE_WORDS] = 0;

    u32 step = 0;
    while (step < steps) {
        if (churn) {
            __asm__ volatile("sti" ::: "memory");
            CHURN[pos * PAGE_WORDS] = gen;
            if (++pos == churn) { pos = 0; gen++; }
        } else {
            sti_hlt();
        }
        if (nlapic < (step + 1) * 10) continue;
        step++;
        for (u32 i = 0; i < churn; i++) {
            u32 want = i < pos ? gen : gen - 1;
            if (CHURN[i * PAGE_WORDS] != want) {
                pstr("counter: memory damaged at step "); pdec(step); pstr(" churn page "); pdec(i);
                pstr(" holds "); pdec(CHURN[i * PAGE_WORDS]); pstr(" expected "); pdec(want); pchar('\n');
                debug_exit(3);
            }
        }
        u32 sum = checksum();
        if (sum != expected) {
            pstr("counter: memory damaged at step "); pdec(step); pstr(" sum "); phex(sum);
            pstr(" expected "); phex(expected); pchar('\n');
            debug_exit(3);
        }
        AREA[step % AREA_WORDS] ^= step;
        PAGES[(step % PAGE_COUNT) * PAGE_WORDS] += step;
        expected = checksum();
        pstr("counter: step "); pdec(step); pstr(" pit "); pdec(npit); pstr(" sum "); phex(expected); pchar('\n');
    }
    debug_exit(0);
}
