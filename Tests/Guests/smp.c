/* smp: starts every AP with INIT/SIPI; each CPU prints "cpu <id> up". */
#include "rt.h"

#define MAXCPU 16
#define TSC_MS 3000000ull   /* TSC ticks per "millisecond", assuming <= 3 GHz */

extern const u8 tramp_start[], tramp_end[];
static volatile u32 print_lock, up_count;
static volatile u8 up[MAXCPU];

static void lock(void)
{
    u32 v;
    do { v = 1; __asm__ volatile("xchgl %0, %1" : "+r"(v), "+m"(print_lock) :: "memory"); if (v) cpu_relax(); } while (v);
}
static void unlock(void) { __asm__ volatile("" ::: "memory"); print_lock = 0; }

static void cpu_up(u32 id)
{
    lock();
    pstr("cpu "); pdec(id); pstr(" up\n");
    if (id < MAXCPU) up[id] = 1;
    up_count++;
    unlock();
}

void ap_main(u32 id) { cpu_up(id); }

static void ipi(u32 dest, u32 lo)
{
    lapic_write(LAPIC_ICRHI, dest << 24);
    lapic_write(LAPIC_ICRLO, lo);
    for (int i = 0; i < 1000 && (lapic_read(LAPIC_ICRLO) & 0x1000); i++) cpu_relax();
}

static int wait_up(u32 id, u64 ticks)
{
    u64 end = rdtsc() + ticks;
    while (!up[id]) { if (rdtsc() > end) return 0; cpu_relax(); }
    return 1;
}

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic; (void)mbi;
    u32 n = (u32)fwcfg_read(0x05, 2);
    if (n < 1) n = 1;
    if (n > MAXCPU) n = MAXCPU;
    pic_mask();
    lapic_enable();
    u32 me = lapic_id();
    cpu_up(me);
    memcpy((void *)0x8000, tramp_start, (size_t)(tramp_end - tramp_start));
    for (u32 id = 0; id < n; id++) {
        if (id == me) continue;
        ipi(id, 0x4500);                 /* INIT */
        delay_tsc(10 * TSC_MS);
        ipi(id, 0x4600 | 0x08);          /* SIPI, vector 0x08 -> 0x8000 */
        if (!wait_up(id, 200 * TSC_MS))
            ipi(id, 0x4600 | 0x08);      /* second SIPI */
    }
    u64 end = rdtsc() + 5000 * TSC_MS;
    while (up_count < n && rdtsc() < end) cpu_relax();
    lock();
    u32 k = up_count;
    if (k < n) {
        pstr("smp: timeout, "); pdec(k); pstr(" of "); pdec(n); pstr(" up\n");
        return 1;
    }
    pstr("smp: "); pdec(n); pstr(" of "); pdec(n); pstr(" cpus up\n");
    return 0;
}
