/* virtio-bench: virtio-blk and virtio-net throughput benchmark guest.
 *
 * Cmdline (all optional):
 *   bench=LIST   comma-separated phases, run in order: seqread, seqwrite, randread,
 *                randwrite (blk), nettx (net), and the diagnostics rdtsc and mem
 *                (count= rdtsc instructions resp. stores in ring 3); default seqread
 *   count=N      requests (frames) per phase; default 1024 for seq*, 32768 for rand*,
 *                200000 for nettx
 *   size=B       bytes per blk request (multiple of 512); default 1048576 for seq*,
 *                4096 for rand*
 *   qd=N         requests kept in flight (queue depth); default 16 (blk), 64 (net);
 *                capped by the queue size / descriptors per request
 *   secs=S       instead of a count: each phase submits for S seconds (TSC), then
 *                lets the requests in flight complete (count= wins if both are given)
 *   seed=N       random-offset seed (default 1)
 *   idle=MS      idle spin around each phase so the host can sample the VMM's CPU
 *                times between phases (default 200)
 *   tsc_khz=N    skip the TSC calibration (ACPI PM timer) and use this
 *
 * Device set-up runs in ring 0; every phase runs in ring 3 (IOPL 3, IF 0, paging
 * off: all RAM, the BARs and the ports are reachable). The loop keeps qd requests in
 * flight: it refills every free slot, publishes avail->idx once per refill and
 * notifies only when the device has not set VIRTQ_USED_F_NO_NOTIFY (as Linux does
 * without EVENT_IDX), then polls the used ring (no interrupts, MSI-X off). Output
 * lines are documented in README.md. */
#include "virtio_pci.h"
#include "user.h"

#define VIRTQ_USED_F_NO_NOTIFY 1
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define NET_HDR 12
#define NET_FRAME 1514
#define ETHERTYPE_BENCH 0x88b5
#define PM_HZ 3579545ull
#define MAX_SLOTS 64

extern u8 _end[];

static struct vdev devs[VDEV_MAX];
static int ndev;
static const struct mb_info *g_mbi;
static char benchlist[128];
static u32 g_count, g_size, g_qd, g_seed, g_idle_ms, g_have_count, g_have_size, g_have_qd;
static u64 tsc_khz;
static u32 pm_port;
static u32 heap;                       /* first free byte after the kernel (1 MiB aligned) */
static u32 ram_end;                    /* end of RAM containing 1 MiB (mem_upper) */

static void fail(const char *a, const char *b) __attribute__((noreturn));
static void fail(const char *a, const char *b)
{
    pstr("FAIL "); pstr(a); if (b) pstr(b); pchar('\n');
    outb(0xf4, 1);
    for (;;) {}
}


static int has_key(const char *key) { char b[2]; return cmdline_str(g_mbi, key, b, sizeof(b)); }

static int streq(const char *a, const char *b) { while (*a && *a == *b) { a++; b++; } return *a == *b; }

static void pdec64(u64 v)
{
    char b[21]; int i = 20;
    b[i] = 0;
    do { b[--i] = (char)('0' + (u32)(v % 10)); v /= 10; } while (v);
    pstr(b + i);
}

static inline u32 inl32(u16 p) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }

static void spin_ms(u32 ms) { u64 end = rdtsc() + (u64)ms * tsc_khz; while (rdtsc() < end) cpu_relax(); }

/* TSC frequency against the ACPI PM timer (3.579545 MHz, 24 bits): two reads ~200 ms
 * apart, each bracketed by rdtsc. Runs in ring 3 (IOPL 3). */
static void calibrate(void)
{
    if (!pm_port) fail("bench: no ACPI PM timer and no tsc_khz=", 0);
    u64 best = 0;
    for (int round = 0; round < 2; round++) {
        u64 a0 = rdtsc(); u32 p0 = inl32((u16)pm_port); u64 a1 = rdtsc();
        u64 target = a0 + 500000000ull;          /* ~200 ms at 2.5 GHz */
        while (rdtsc() < target) cpu_relax();
        u64 b0 = rdtsc(); u32 p1 = inl32((u16)pm_port); u64 b1 = rdtsc();
        u32 ticks = (p1 - p0) & 0xffffff;
        if (!ticks) fail("bench: PM timer does not count", 0);
        u64 cyc = (b0 + b1) / 2 - (a0 + a1) / 2;
        best = cyc * PM_HZ / ticks / 1000;
    }
    tsc_khz = best;
}

/* ---------------- shared ring-3 request loop ---------------- */
struct slotq {
    u16 free[MAX_SLOTS];
    u32 nfree;
};

static u32 g_kicks;

static inline void publish_and_kick(struct virtq *q)
{
    __asm__ volatile("" ::: "memory");
    q->avail->idx = q->next_avail;
    mb();                                        /* idx visible before reading flags */
    if (!(q->used->flags & VIRTQ_USED_F_NO_NOTIFY)) { mw16(q->notify, q->index); g_kicks++; }
}

/* phase length: count= requests, or with secs=S (and no count=) as many as fit in S
 * seconds (submission stops then, the requests in flight complete) */
static u32 g_secs;
static u64 g_wait, g_waits;
static inline int more(u32 submitted, u32 count, u64 t0)
{
    /* rdtsc traps on PVM (~4 µs, an exit): look at the clock every 32 requests only */
    if (g_secs && !g_have_count) return (submitted & 31) || rdtsc() - t0 < (u64)g_secs * 1000 * tsc_khz;
    return submitted < count;
}

static void print_result(const char *name, u32 reqs, u32 size, u64 cycles, u32 qd, u32 kicks, u64 errors)
{
    pstr("bench: "); pstr(name); pstr(" reqs "); pdec(reqs); pstr(" bytes "); pdec64((u64)reqs * size);
    pstr(" cycles "); pdec64(cycles); pstr(" qd "); pdec(qd); pstr(" size "); pdec(size);
    pstr(" kicks "); pdec(kicks); pstr(" errors "); pdec64(errors);
    pstr(" waits "); pdec64(g_waits); pstr(" wait_cycles "); pdec64(g_wait); pchar('\n');
}

/* waits for a used entry; fails on a long stall (checks device status then) */
static inline int reap_one(struct vdev *d, struct virtq *q, u32 *id)
{
    if (q->used->idx == q->last_used) {
        u64 start = rdtsc();
        g_waits++;
        u32 spin = 0;
        while (q->used->idx == q->last_used) {
            cpu_relax();
            if ((++spin & 0xfffff) == 0 && rdtsc() - start > 10000ull * tsc_khz) {
                u8 st = vdev_status(d);
                pstr("FAIL bench: no completion for 10 s, device status 0x"); phex(st);
                pstr(", avail "); pdec(q->next_avail); pstr(", used "); pdec(q->used->idx); pchar('\n');
                outb(0xf4, 1);
                for (;;) {}
            }
        }
        g_wait += rdtsc() - start;
    }
    __asm__ volatile("" ::: "memory");
    volatile struct virtq_used_elem *e = &q->used->ring[q->last_used % q->size];
    *id = e->id;
    q->last_used++;
    return 1;
}

/* ---------------- blk ---------------- */
struct blk_hdr { u32 type, reserved; u64 sector; };
static volatile struct blk_hdr bhdr[MAX_SLOTS] __attribute__((aligned(16)));
static volatile u8 bstat[MAX_SLOTS];
static struct vdev *blk;
static u64 blk_sectors;
static u32 blk_size_max, blk_seg_max, blk_qsize;

static void set_desc(struct virtq *q, u16 i, u32 addr, u32 len, u16 flags, u16 next)
{
    q->desc[i].addr = addr;
    q->desc[i].len = len;
    q->desc[i].flags = flags;
    q->desc[i].next = next;
}

static void blk_setup(void)
{
    blk = virtio_find(devs, ndev, VIRTIO_ID_BLK);
    if (!blk) fail("bench: no blk device", 0);
    int r = vdev_negotiate(blk, FEAT(VIRTIO_BLK_F_FLUSH) | FEAT(1) /* SIZE_MAX */ | FEAT(2) /* SEG_MAX */);
    if (r) fail("bench: blk init failed", 0);
    int n = vq_setup(blk, 0, VQ_MAX, 0);
    if (n <= 0) fail("bench: blk: no queue 0", 0);
    blk_qsize = (u32)n;
    vdev_driver_ok(blk);
    blk_sectors = vcfg64(blk, 0);
    blk_size_max = (blk->features & FEAT(1)) ? vcfg32(blk, 8) : 0;
    blk_seg_max = (blk->features & FEAT(2)) ? vcfg32(blk, 12) : 0;
    if (blk->features & FEAT(VIRTIO_BLK_F_RO)) fail("bench: blk device is read-only", 0);
    pstr("bench: blk capacity "); pdec64(blk_sectors); pstr(" sectors, queue "); pdec(blk_qsize);
    pstr(", size_max "); pdec(blk_size_max); pstr(", seg_max "); pdec(blk_seg_max);
    pstr(", flush "); pstr(blk->features & FEAT(VIRTIO_BLK_F_FLUSH) ? "yes" : "no"); pchar('\n');
}

static u32 xs;
static inline u32 xorshift(void) { xs ^= xs << 13; xs ^= xs >> 17; xs ^= xs << 5; return xs; }

/* one blk phase; returns after printing its result line */
static void blk_phase(const char *name, int write, int random)
{
    u32 size = g_have_size ? g_size : random ? 4096 : 1048576;
    u32 count = g_have_count ? g_count : random ? 32768 : 1024;
    u32 qd = g_have_qd ? g_qd : 16;
    if (!size || size % 512) fail("bench: size must be a non-zero multiple of 512", 0);
    u32 chunk = blk_size_max ? blk_size_max & ~511u : size;
    if (!chunk) chunk = 512;
    u32 segs = (size + chunk - 1) / chunk;
    if (blk_seg_max && segs > blk_seg_max) fail("bench: size needs more segments than seg_max", 0);
    u32 per = segs + 2;                          /* descriptors per request */
    if (qd > blk_qsize / per) qd = blk_qsize / per;
    if (qd > MAX_SLOTS) qd = MAX_SLOTS;
    if (!qd) fail("bench: request does not fit in the queue", 0);
    u64 blocks = blk_sectors * 512 / size;       /* request-sized blocks on the disk */
    if (!blocks) fail("bench: disk smaller than one request", 0);
    if (heap + qd * size > ram_end) fail("bench: buffers do not fit in RAM", 0);

    struct virtq *q = &blk->vq[0];
    for (u32 s = 0; s < qd; s++) {
        u16 h = (u16)(s * per);
        u32 buf = heap + s * size;
        set_desc(q, h, (u32)&bhdr[s], sizeof(bhdr[s]), VIRTQ_DESC_F_NEXT, (u16)(h + 1));
        for (u32 k = 0; k < segs; k++) {
            u32 len = size - k * chunk < chunk ? size - k * chunk : chunk;
            set_desc(q, (u16)(h + 1 + k), buf + k * chunk, len,
                     (u16)(VIRTQ_DESC_F_NEXT | (write ? 0 : VIRTQ_DESC_F_WRITE)), (u16)(h + 2 + k));
        }
        set_desc(q, (u16)(h + 1 + segs), (u32)&bstat[s], 1, VIRTQ_DESC_F_WRITE, 0);
        bhdr[s].type = write ? BLK_T_OUT : BLK_T_IN;
        bhdr[s].reserved = 0;
    }
    if (write) {                                 /* non-zero, per-slot data */
        for (u32 s = 0; s < qd; s++) {
            u32 *p = (u32 *)(heap + s * size);
            for (u32 i = 0; i < size / 4; i++) p[i] = 0x9e3779b9u * (i + 1) ^ (s << 24) ^ g_seed;
        }
    }
    xs = g_seed ? g_seed : 1;

    pstr("bench: "); pstr(name); pstr(" start\n");
    spin_ms(g_idle_ms);

    u64 next_block = 0, errors = 0;
    u32 submitted = 0, completed = 0, inflight = 0, kicks0 = g_kicks;
    struct slotq fq;
    fq.nfree = 0;
    for (u32 s = qd; s > 0; s--) fq.free[fq.nfree++] = (u16)(s - 1);
    g_wait = g_waits = 0;
    u64 t0 = rdtsc();
    int going = 1;
    while (going || inflight) {
        u32 pushed = 0;
        while (fq.nfree && (going = more(submitted, count, t0))) {
            u32 s = fq.free[--fq.nfree];
            u64 b;
            if (random) b = blocks > 0xffffffffull ? xorshift() : xorshift() % (u32)blocks;
            else { b = next_block++; if (next_block >= blocks) next_block = 0; }
            bhdr[s].sector = b * (size / 512);
            bstat[s] = 0xee;
            vq_push(q, (u16)(s * per));
            submitted++; inflight++; pushed++;
        }
        if (pushed) publish_and_kick(q);
        if (!inflight) continue;
        u32 id;
        reap_one(blk, q, &id);
        do {
            u32 s = id / per;
            if (s >= qd || id % per) fail("bench: blk: unexpected used id", 0);
            if (bstat[s] != 0) errors++;
            fq.free[fq.nfree++] = (u16)s;
            inflight--; completed++;
            if (q->used->idx == q->last_used) break;
        } while (reap_one(blk, q, &id));
    }
    u64 cycles = rdtsc() - t0;
    print_result(name, completed, size, cycles, qd, g_kicks - kicks0, errors);
    if (errors) fail("bench: blk requests failed", 0);
    spin_ms(g_idle_ms);

    if (write && (blk->features & FEAT(VIRTIO_BLK_F_FLUSH))) {   /* untimed: start the next phase clean */
        bhdr[0].type = BLK_T_FLUSH; bhdr[0].sector = 0; bstat[0] = 0xee;
        set_desc(q, 0, (u32)&bhdr[0], sizeof(bhdr[0]), VIRTQ_DESC_F_NEXT, 1);
        set_desc(q, 1, (u32)&bstat[0], 1, VIRTQ_DESC_F_WRITE, 0);
        vq_push(q, 0);
        publish_and_kick(q);
        u32 id;
        reap_one(blk, q, &id);
        if (bstat[0] != 0) fail("bench: flush failed", 0);
        pstr("bench: "); pstr(name); pstr(" flushed\n");
    }
}

/* ---------------- net ---------------- */
static struct vdev *net;
static u8 mac[6];
#define NET_RXN 16

static void net_setup(void)
{
    net = virtio_find(devs, ndev, VIRTIO_ID_NET);
    if (!net) fail("bench: no net device", 0);
    if (vdev_negotiate(net, FEAT(VIRTIO_NET_F_MAC))) fail("bench: net init failed", 0);
    int rxn = vq_setup(net, 0, NET_RXN, 0), txn = vq_setup(net, 1, VQ_MAX, 0);
    if (rxn <= 0 || txn <= 0) fail("bench: net: no rx/tx queue", 0);
    /* a few receive buffers (never reaped: anything the host sends just fills them) */
    struct virtq *rx = &net->vq[0];
    for (int i = 0; i < rxn; i++) {
        set_desc(rx, (u16)i, heap + (u32)i * 2048, 2048, VIRTQ_DESC_F_WRITE, 0);
        vq_push(rx, (u16)i);
    }
    heap += NET_RXN * 2048;
    vq_publish(rx);
    vdev_driver_ok(net);
    vq_notify(rx);
    if (net->features & FEAT(VIRTIO_NET_F_MAC)) for (int i = 0; i < 6; i++) mac[i] = vcfg8(net, (u32)i);
    else { mac[0] = 2; mac[5] = 1; }
    pstr("bench: net tx queue "); pdec((u32)txn); pchar('\n');
}

static void net_phase(void)
{
    u32 count = g_have_count ? g_count : 200000;
    struct virtq *q = &net->vq[1];
    u32 qd = g_have_qd ? g_qd : 64;
    if (qd > q->size) qd = q->size;
    if (qd > MAX_SLOTS) qd = MAX_SLOTS;
    const u32 stride = 2048;
    if (heap + qd * stride > ram_end) fail("bench: buffers do not fit in RAM", 0);
    for (u32 s = 0; s < qd; s++) {
        u8 *b = (u8 *)(heap + s * stride);
        memset(b, 0, NET_HDR);                   /* virtio-net header: no offloads */
        u8 *f = b + NET_HDR;
        memset(f, 0xff, 6);
        memcpy(f + 6, mac, 6);
        f[12] = ETHERTYPE_BENCH >> 8; f[13] = ETHERTYPE_BENCH & 0xff;
        for (u32 i = 14; i < NET_FRAME; i++) f[i] = (u8)(i * 7 + s);
        set_desc(q, (u16)s, heap + s * stride, NET_HDR + NET_FRAME, 0, 0);
    }

    pstr("bench: nettx start\n");
    spin_ms(g_idle_ms);
    struct slotq fq;
    fq.nfree = 0;
    for (u32 s = qd; s > 0; s--) fq.free[fq.nfree++] = (u16)(s - 1);
    u32 submitted = 0, completed = 0, kicks0 = g_kicks;
    g_wait = g_waits = 0;
    u64 t0 = rdtsc();
    int going = 1;
    while (going || completed < submitted) {
        u32 pushed = 0;
        while (fq.nfree && (going = more(submitted, count, t0))) {
            u32 s = fq.free[--fq.nfree];
            *(volatile u32 *)(heap + s * stride + NET_HDR + 14) = submitted;   /* sequence number */
            vq_push(q, (u16)s);
            submitted++; pushed++;
        }
        if (pushed) publish_and_kick(q);
        if (completed == submitted) continue;
        u32 id;
        reap_one(net, q, &id);
        do {
            if (id >= qd) fail("bench: net: unexpected used id", 0);
            fq.free[fq.nfree++] = (u16)id;
            completed++;
            if (q->used->idx == q->last_used) break;
        } while (reap_one(net, q, &id));
    }
    u64 cycles = rdtsc() - t0;
    print_result("nettx", completed, NET_FRAME, cycles, qd, g_kicks - kicks0, 0);
    spin_ms(g_idle_ms);
}

/* ---------------- ring 3 ---------------- */
static void user_main(void)
{
    if (!tsc_khz) calibrate();
    pstr("bench: tsc_khz "); pdec64(tsc_khz); pchar('\n');
    const char *p = benchlist;
    while (*p) {
        char name[24]; u32 n = 0;
        while (*p && *p != ',') { if (n + 1 < sizeof(name)) name[n++] = *p; p++; }
        name[n] = 0;
        if (*p == ',') p++;
        if (streq(name, "seqread")) blk_phase(name, 0, 0);
        else if (streq(name, "seqwrite")) blk_phase(name, 1, 0);
        else if (streq(name, "randread")) blk_phase(name, 0, 1);
        else if (streq(name, "randwrite")) blk_phase(name, 1, 1);
        else if (streq(name, "nettx")) net_phase();
        /* diagnostics: what one ring-3 instruction costs on this host */
        else if (streq(name, "mem")) {                   /* stores to 64 buffers, 2 KiB apart */
            u32 n = g_have_count ? g_count : 100000;
            u64 t0 = rdtsc();
            for (u32 i = 0; i < n; i++) *(volatile u32 *)(heap + (i & 63) * 2048 + 26) = i;
            print_result(name, n, 0, rdtsc() - t0, 0, 0, 0);
        }
        else if (streq(name, "rdtsc")) {                 /* cost of rdtsc in ring 3 */
            u32 n = g_have_count ? g_count : 100000;
            u64 t0 = rdtsc();
            for (u32 i = 0; i < n; i++) (void)rdtsc();
            print_result(name, n, 0, rdtsc() - t0, 0, 0, 0);
        }
        else fail("bench: unknown phase ", name);
    }
    pstr("bench: done\n");
    outb(0xf4, 0);
    for (;;) {}
}

static int list_has(const char *prefix)
{
    for (const char *p = benchlist; *p; p++) {
        if (p != benchlist && p[-1] != ',') continue;
        int i = 0;
        while (prefix[i] && p[i] == prefix[i]) i++;
        if (!prefix[i]) return 1;
    }
    return 0;
}

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic;
    g_mbi = mbi;
    if (!cmdline_str(g_mbi, "bench", benchlist, sizeof(benchlist))) memcpy(benchlist, "seqread", 8);
    g_have_count = has_key("count"); g_count = cmdline_uint(mbi, "count", 0);
    g_have_size = has_key("size"); g_size = cmdline_uint(mbi, "size", 0);
    g_have_qd = has_key("qd"); g_qd = cmdline_uint(mbi, "qd", 16);
    g_seed = cmdline_uint(mbi, "seed", 1);
    g_idle_ms = cmdline_uint(mbi, "idle", 200);
    tsc_khz = cmdline_uint(mbi, "tsc_khz", 0);
    g_secs = cmdline_uint(mbi, "secs", 0);

    if (!(mbi->flags & 1)) fail("bench: no multiboot memory info", 0);
    ram_end = 0x100000u + mbi->mem_upper * 1024u;
    heap = ((u32)_end + 0xfffffu) & ~0xfffffu;

    const struct acpi_hdr *fadt = acpi_find("FACP");
    if (fadt && fadt->length >= 80) pm_port = fadt_u32(fadt, 76);

    ndev = virtio_scan(devs, VDEV_MAX);
    if (list_has("seq") || list_has("rand")) blk_setup();
    if (list_has("net")) net_setup();
    enter_user(user_main);
}
