/* balloon: polled virtio-balloon driver (virtio 1.x over PCI), driven from the host.
 * Cmdline: test=follow|hostile|bench (default follow), pages=<n> (default 8192).
 *
 * follow: touches <pages> pages at 64 MiB ("balloon: touched <n>"), answers statistics
 *   requests (total_memory = RAM, free_memory = 12345 pages, minor_faults = reports so far),
 *   and follows the host's target (num_pages) with pages from that region, printing
 *   "balloon: actual <n>" each time. Back at 0 after a deflate it checks that the pages
 *   it got back read as zeros ("balloon: deflated pages read zero"). The console byte 'r'
 *   touches <pages> pages at 160 MiB and reports them on the reporting queue in 2 MiB
 *   ranges ("balloon: touched report region", then, after another 'r', "balloon: reported
 *   <n> pages"; a third 'r' checks them: "balloon: reported pages read zero").
 * hostile: see hostile() below; ends with "balloon: hostile done" (canaries checked).
 * bench: touches <pages> pages ("bench: touched"), inflates them ("bench: inflated <n>
 *   pages"), deflates and touches them again, reports them ("bench: reported <n> pages"),
 *   each step as fast as it can once a 'g' arrives on the console; ends "bench: done". */
#include "virtio_pci.h"

#define F_STATS_VQ 1
#define F_DEFLATE_ON_OOM 2
#define F_REPORTING 5
#define PAGE 4096u
#define INFLATE_REGION 0x04000000u
#define REPORT_REGION 0x0a000000u
#define PFNS_PER_REQUEST 256
#define REPORT_CHUNK (2u << 20)

static struct vdev devs[VDEV_MAX];
static struct vdev *dev;
static struct virtq *inflateq, *deflateq, *statsq, *reportq;
static u32 pfns[PFNS_PER_REQUEST] __attribute__((aligned(16)));
static u32 ram_bytes;
static u32 stats_reports;

struct balloon_stat { u16 tag; u64 val; } __attribute__((packed));
static struct balloon_stat stats[4];

static void fail(const char *a) __attribute__((noreturn));
static void fail(const char *a)
{
    pstr("FAIL balloon: "); pstr(a); pchar('\n');
    debug_exit(1);
}

static int streq(const char *a, const char *b) { while (*a && *a == *b) { a++; b++; } return *a == *b; }

static void set_desc(struct virtq *q, u16 i, u64 addr, u32 len, u16 flags, u16 next)
{
    q->desc[i].addr = addr; q->desc[i].len = len; q->desc[i].flags = flags; q->desc[i].next = next;
}

/* Submits the chain at descriptor 0 and waits for it: 1 used, 0 timeout, -1 needs reset. */
static int request(struct virtq *q)
{
    vq_submit(q, 0);
    u32 id, len;
    return vq_poll(dev, q, 5000 * TSC_MS, &id, &len);
}

static void init(void)
{
    int n = virtio_scan(devs, VDEV_MAX);
    dev = virtio_find(devs, n, VIRTIO_ID_BALLOON);
    if (!dev) fail("no balloon device");
    if (vdev_negotiate(dev, FEAT(F_STATS_VQ) | FEAT(F_DEFLATE_ON_OOM) | FEAT(F_REPORTING))) fail("negotiation");
    int qi = 0;
    inflateq = &dev->vq[qi]; if (vq_setup(dev, qi++, 64, 0) < 0) fail("no inflate queue");
    deflateq = &dev->vq[qi]; if (vq_setup(dev, qi++, 64, 0) < 0) fail("no deflate queue");
    statsq = reportq = 0;
    if (dev->features & FEAT(F_STATS_VQ)) { statsq = &dev->vq[qi]; if (vq_setup(dev, qi++, 4, 0) < 0) fail("no stats queue"); }
    if (dev->features & FEAT(F_REPORTING)) { reportq = &dev->vq[qi]; if (vq_setup(dev, qi++, 32, 0) < 0) fail("no reporting queue"); }
    vdev_driver_ok(dev);
    pstr("balloon: features");
    if (dev->features & FEAT(F_STATS_VQ)) pstr(" stats");
    if (dev->features & FEAT(F_DEFLATE_ON_OOM)) pstr(" deflate-on-oom");
    if (dev->features & FEAT(F_REPORTING)) pstr(" reporting");
    pchar('\n');
}

/* The statistics report: the device keeps the buffer and gives it back for the next one. */
static void post_stats(void)
{
    if (!statsq) return;
    stats_reports++;
    stats[0].tag = 5; stats[0].val = ram_bytes;                 /* total_memory */
    stats[1].tag = 4; stats[1].val = 12345ull * PAGE;           /* free_memory */
    stats[2].tag = 3; stats[2].val = stats_reports;             /* minor_faults */
    stats[3].tag = 0x7777; stats[3].val = 1;                    /* unknown tag: ignored */
    set_desc(statsq, 0, (u32)stats, sizeof(stats), 0, 0);
    vq_submit(statsq, 0);
}

static void poll_stats(void)
{
    if (statsq && statsq->used->idx != statsq->last_used) {
        statsq->last_used = statsq->used->idx;
        post_stats();
    }
}

/* Sends the pages [first, first + count) of the region in requests of 256 page numbers. */
static void send_pages(struct virtq *q, u32 region, u32 first, u32 count)
{
    for (u32 done = 0; done < count;) {
        u32 n = count - done < PFNS_PER_REQUEST ? count - done : PFNS_PER_REQUEST;
        for (u32 i = 0; i < n; i++) pfns[i] = region / PAGE + first + done + i;
        set_desc(q, 0, (u32)pfns, n * 4, 0, 0);
        if (request(q) != 1) fail("inflate/deflate request not completed");
        done += n;
    }
}

static void set_actual(u32 pages) { mw32(dev->devcfg + 4, pages); }

static void touch(u32 region, u32 pages)
{
    for (u32 i = 0; i < pages; i++) *(volatile u32 *)(region + i * PAGE) = 0xb0000000u | i;
}

static int reads_zero(u32 region, u32 pages)
{
    for (u32 i = 0; i < pages; i++) {
        const volatile u32 *p = (const volatile u32 *)(region + i * PAGE);
        for (u32 w = 0; w < PAGE / 4; w += 256) if (p[w]) return 0;
    }
    return 1;
}

/* Reports the region in 2 MiB ranges, up to 16 ranges per request, as Linux does. */
static void report(u32 region, u32 pages)
{
    if (!reportq) fail("no reporting queue");
    u32 bytes = pages * PAGE;
    for (u32 off = 0; off < bytes;) {
        u16 n = 0;
        while (off < bytes && n < 16) {
            u32 len = bytes - off < REPORT_CHUNK ? bytes - off : REPORT_CHUNK;
            set_desc(reportq, n, region + off, len, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, (u16)(n + 1));
            off += len; n++;
        }
        reportq->desc[n - 1].flags = VIRTQ_DESC_F_WRITE;
        if (request(reportq) != 1) fail("report not completed");
    }
}

static int serial_byte(void) { return (inb(COM1 + 5) & 1) ? inb(COM1) : -1; }

static void follow(u32 pages)
{
    touch(INFLATE_REGION, pages);
    pstr("balloon: touched "); pdec(pages); pchar('\n');
    u32 actual = 0, inflated_ever = 0;
    for (;;) {
        poll_stats();
        u32 target = vcfg32(dev, 0);
        if (target > pages) target = pages;
        if (target != actual) {
            if (target > actual) { send_pages(inflateq, INFLATE_REGION, actual, target - actual); inflated_ever = 1; }
            else send_pages(deflateq, INFLATE_REGION, target, actual - target);
            actual = target;
            set_actual(actual);
            pstr("balloon: actual "); pdec(actual); pchar('\n');
            if (actual == 0 && inflated_ever) {
                if (!reads_zero(INFLATE_REGION, pages)) fail("deflated pages do not read zero");
                pstr("balloon: deflated pages read zero\n");
                touch(INFLATE_REGION, pages);
            }
        }
        if (serial_byte() == 'r') {
            touch(REPORT_REGION, pages);
            pstr("balloon: touched report region\n");
            while (serial_byte() != 'r') poll_stats();
            report(REPORT_REGION, pages);
            pstr("balloon: reported "); pdec(pages); pstr(" pages\n");
            /* Reading them allocates them again: only once the host has measured. */
            while (serial_byte() != 'r') poll_stats();
            if (!reads_zero(REPORT_REGION, pages)) fail("reported pages do not read zero");
            pstr("balloon: reported pages read zero\n");
        }
        cpu_relax();
    }
}

/* Each phase waits for a 'g' on the console, so the host can measure before and after. */
static void await_go(void) { while (serial_byte() != 'g') poll_stats(); }

static void bench(u32 pages)
{
    touch(INFLATE_REGION, pages);
    pstr("bench: touched\n");
    await_go();
    send_pages(inflateq, INFLATE_REGION, 0, pages);
    pstr("bench: inflated "); pdec(pages); pstr(" pages\n");
    await_go();
    send_pages(deflateq, INFLATE_REGION, 0, pages);
    touch(INFLATE_REGION, pages);
    pstr("bench: touched\n");
    await_go();
    report(INFLATE_REGION, pages);
    pstr("bench: reported "); pdec(pages); pstr(" pages\n");
    await_go();
    pstr("bench: done\n");
}

/* ---- hostile ---- */
#define CANARY_A 0x02000000u   /* 32 MiB: 64 KiB of pattern no request names */
#define CANARY_BYTES (64u << 10)
#define VICTIM   0x03000000u   /* pages the hostile requests may legitimately free */
#define HUGE_ARRAY 0x05000000u /* 80 MiB: 2 MiB of page numbers, twice what vmm reads */
#define HUGE_BYTES (2u << 20)

static u32 checksum(u32 start, u32 bytes)
{
    u32 sum = 0;
    for (u32 a = start; a < start + bytes; a += 4) sum = (sum << 1 | sum >> 31) ^ *(volatile u32 *)a;
    return sum;
}

static void fill(u32 start, u32 bytes, u32 seed)
{
    for (u32 a = start; a < start + bytes; a += 4) *(volatile u32 *)a = seed ^ a;
}

/* Sends one inflate request of `count` page numbers from `list`. */
static int inflate_list(const u32 *list, u32 count)
{
    for (u32 i = 0; i < count; i++) pfns[i] = list[i];
    set_desc(inflateq, 0, (u32)pfns, count * 4, 0, 0);
    return request(inflateq);
}

/* After a request the device must refuse (NEEDS_RESET), start the device over. */
static void expect_reset(int r, const char *what)
{
    if (r != -1) { pstr("FAIL balloon: "); pstr(what); pstr(" was not refused\n"); debug_exit(1); }
    pstr("balloon: refused "); pstr(what); pchar('\n');
    init();
}

static void hostile(void)
{
    u32 top = ram_bytes < 0xc0000000u ? ram_bytes : 0xc0000000u;   /* end of RAM below 4 GiB */
    u32 canary_top = top - 16 * PAGE;                               /* the last 16 pages below the hole/end */
    fill(CANARY_A, CANARY_BYTES, 0x5a5a0000u);
    fill(canary_top, 16 * PAGE, 0xa5a50000u);
    fill(VICTIM, 4 * PAGE, 0x11110000u);
    u32 sum_a = checksum(CANARY_A, CANARY_BYTES), sum_top = checksum(canary_top, 16 * PAGE);

    /* Page numbers outside RAM: the MMIO hole, the LAPIC, past the end, the largest. */
    static const u32 outside[] = { 0xc0000, 0xc0001, 0xdffff, 0xfee00, 0xfffff, 0xffffffffu, 0x7fffffffu,
                                   0x100000 + 0x400000, VICTIM / PAGE };
    if (inflate_list(outside, sizeof(outside) / 4) != 1) fail("out-of-range page numbers stopped the device");
    pstr("balloon: out-of-range page numbers ignored\n");

    /* An odd length: the last 2 bytes are no page number. */
    pfns[0] = VICTIM / PAGE + 1; pfns[1] = 0xffffffffu;
    set_desc(inflateq, 0, (u32)pfns, 6, 0, 0);
    if (request(inflateq) != 1) fail("odd-length array stopped the device");

    /* 2 MiB of page numbers (512 Ki entries), all outside RAM; rep stos is one
     * emulated instruction, a loop would be half a million. */
    u32 fill_at = HUGE_ARRAY, fill_count = HUGE_BYTES / 4;
    __asm__ volatile("rep stosl" : "+D"(fill_at), "+c"(fill_count) : "a"(0xfff00000u) : "memory");
    set_desc(inflateq, 0, HUGE_ARRAY, HUGE_BYTES, 0, 0);
    if (request(inflateq) != 1) fail("huge array stopped the device");
    pstr("balloon: huge array done\n");

    /* Deflate garbage: accounting only. */
    set_desc(deflateq, 0, HUGE_ARRAY, 4096, 0, 0);
    if (request(deflateq) != 1) fail("deflate of garbage stopped the device");

    /* A statistics buffer far larger than any report. */
    if (statsq) {
        set_desc(statsq, 1, HUGE_ARRAY, HUGE_BYTES, 0, 0);
        vq_submit(statsq, 1);
    }

    /* Buffers the device must refuse: each breaks the queue, and the driver starts over. */
    set_desc(inflateq, 0, top - PAGE, 2 * PAGE, 0, 0);               /* runs past RAM into the hole */
    expect_reset(request(inflateq), "array running past RAM");
    set_desc(inflateq, 0, 0x1000, 0xffffffffu, 0, 0);                /* 4 GiB long */
    expect_reset(request(inflateq), "4 GiB array");
    set_desc(inflateq, 0, 0xfffffffffffff000ull, 0x2000, 0, 0);      /* wraps past 2^64 */
    expect_reset(request(inflateq), "wrapping array");
    if (reportq) {
        set_desc(reportq, 0, top - PAGE, 2 * PAGE, VIRTQ_DESC_F_WRITE, 0);   /* range into the hole */
        expect_reset(request(reportq), "range running past RAM");
        set_desc(reportq, 0, 0xfffffffffffff000ull, 0x3000, VIRTQ_DESC_F_WRITE, 0);   /* wraps */
        expect_reset(request(reportq), "wrapping range");
        set_desc(reportq, 0, 0xc0000000u, 0x1000, VIRTQ_DESC_F_WRITE, 0);   /* MMIO hole */
        expect_reset(request(reportq), "range in the MMIO hole");
        /* Half pages: only whole pages inside a range may go (VICTIM + 2 of 4 pages). */
        set_desc(reportq, 0, VICTIM + 2 * PAGE + 0x800, PAGE + 0x800, VIRTQ_DESC_F_WRITE, 0);
        if (request(reportq) != 1) fail("half-page range stopped the device");
    }
    /* Configuration writes the driver may not make, and reads past the structure. */
    mw32(dev->devcfg + 0, 0xffffffffu);
    mw8(dev->devcfg + 5, 0xff);
    (void)vcfg32(dev, 64);

    if (checksum(CANARY_A, CANARY_BYTES) != sum_a) fail("canary at 32 MiB changed");
    if (checksum(canary_top, 16 * PAGE) != sum_top) fail("canary at the top of RAM changed");
    if (*(volatile u32 *)(VICTIM + 2 * PAGE) != (0x11110000u ^ (VICTIM + 2 * PAGE))) fail("partly reported page freed");
    if (reportq && *(volatile u32 *)(VICTIM + 3 * PAGE) != 0) fail("whole page of a reported range not freed");
    if (*(volatile u32 *)VICTIM != 0) fail("the victim page listed with bad ones was not freed");
    pstr("balloon: canaries intact\n");
    pstr("balloon: hostile done\n");
    debug_exit(0);
}

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic;
    char mode[16];
    if (!cmdline_str(mbi, "test", mode, sizeof(mode))) { mode[0] = 'f'; mode[1] = 0; }
    u32 pages = cmdline_uint(mbi, "pages", 8192);
    ram_bytes = (mbi->mem_upper + 1024) * 1024;
    init();
    post_stats();
    if (streq(mode, "hostile")) hostile();
    if (streq(mode, "bench")) { bench(pages); debug_exit(0); }
    follow(pages);
    return 0;
}
