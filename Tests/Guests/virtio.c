/* virtio: polled virtio 1.x PCI driver test (blk, net, rng) plus "hostile" modes
 * that misuse the blk device like a broken or malicious driver would.
 * Cmdline: test=all|blk|net|rng|blkseq|writer (default all), hostile=<mode>|all, timeout=<s>
 * (net receive wait, default 20). Output lines are documented in README.md. */
#include "virtio_pci.h"

static struct vdev devs[VDEV_MAX];
static int ndev;

static void fail(const char *a, const char *b) __attribute__((noreturn));
static void fail(const char *a, const char *b)
{
    pstr("FAIL "); pstr(a); if (b) pstr(b); pchar('\n');
    debug_exit(1);
}


static int streq(const char *a, const char *b) { while (*a && *a == *b) { a++; b++; } return *a == *b; }

static void pdec64(u64 v)
{
    char b[21]; int i = 20;
    b[i] = 0;
    do { b[--i] = (char)('0' + (u32)(v % 10)); v /= 10; } while (v);
    pstr(b + i);
}

static void phex2(u32 v) { pchar("0123456789abcdef"[(v >> 4) & 15]); pchar("0123456789abcdef"[v & 15]); }
static void pprintable(const u8 *p, u32 n) { for (u32 i = 0; i < n; i++) pchar(p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.'); }

static const char *negotiate_err(int r)
{
    return r == -1 ? "VERSION_1 not offered" : r == -2 ? "FEATURES_OK not accepted" : "reset did not complete";
}

static void set_desc(struct virtq *q, u16 i, const volatile void *addr, u32 len, u16 flags, u16 next)
{
    q->desc[i].addr = (u32)addr;
    q->desc[i].len = len;
    q->desc[i].flags = flags;
    q->desc[i].next = next;
}

/* ================= blk ================= */
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_UNSUPP 2
#define STATUS_UNWRITTEN 0xee

struct blk_hdr { u32 type, reserved; u64 sector; };
static volatile struct blk_hdr bhdr __attribute__((aligned(16)));
static volatile u8 bstatus;
static u8 bbuf[8 * 512] __attribute__((aligned(4096)));
static u8 bexp[8 * 512];
static u8 scratch[8 * 512] __attribute__((aligned(4096)));

static const char *blk_init(struct vdev *d, u64 extra)
{
    int r = vdev_negotiate(d, FEAT(VIRTIO_BLK_F_RO) | FEAT(VIRTIO_BLK_F_FLUSH) | extra);
    if (r) return negotiate_err(r);
    if (vq_setup(d, 0, 16, 0) < 0) return "no queue 0";
    vdev_driver_ok(d);
    return 0;
}

/* header, optional data, status in descriptors 0.. of queue 0 */
static void blk_build(struct virtq *q, u32 type, u64 sector, const volatile void *buf, u32 len,
                      u16 hflags, u16 dflags, u16 sflags)
{
    bhdr.type = type; bhdr.reserved = 0; bhdr.sector = sector;
    bstatus = STATUS_UNWRITTEN;
    if (len) {
        set_desc(q, 0, &bhdr, sizeof(bhdr), hflags | VIRTQ_DESC_F_NEXT, 1);
        set_desc(q, 1, buf, len, dflags | VIRTQ_DESC_F_NEXT, 2);
        set_desc(q, 2, &bstatus, 1, sflags, 0);
    } else {
        set_desc(q, 0, &bhdr, sizeof(bhdr), hflags | VIRTQ_DESC_F_NEXT, 1);
        set_desc(q, 1, &bstatus, 1, sflags, 0);
    }
}

/* status byte, or -1 timeout, -2 NEEDS_RESET, -3 unexpected used id */
static int blk_req(struct vdev *d, u32 type, u64 sector, void *buf, u32 len)
{
    struct virtq *q = &d->vq[0];
    u16 dflags = (type == BLK_T_OUT) ? 0 : VIRTQ_DESC_F_WRITE;
    blk_build(q, type, sector, buf, len, 0, dflags, VIRTQ_DESC_F_WRITE);
    vq_submit(q, 0);
    u32 id, ulen;
    int r = vq_poll(d, q, 5000 * TSC_MS, &id, &ulen);
    if (r == 0) return -1;
    if (r < 0) return -2;
    if (id != 0) return -3;
    return bstatus;
}

static void pstatus(int r)
{
    switch (r) {
    case -1: pstr("timeout"); break;
    case -2: pstr("device needs reset"); break;
    case -3: pstr("unexpected used id"); break;
    case BLK_S_OK: pstr("status 0 (OK)"); break;
    case BLK_S_IOERR: pstr("status 1 (IOERR)"); break;
    case BLK_S_UNSUPP: pstr("status 2 (UNSUPP)"); break;
    case STATUS_UNWRITTEN: pstr("status byte unwritten"); break;
    default: pstr("status "); pdec((u32)r); break;
    }
}

static void blk_fail(const char *what, int r) __attribute__((noreturn));
static void blk_fail(const char *what, int r)
{
    pstr("FAIL blk: "); pstr(what); pstr(": "); pstatus(r); pchar('\n');
    debug_exit(1);
}

static void blk_pattern(u8 *p)
{
    for (u32 s = 1; s <= 8; s++, p += 512) {
        static const char text[] = "vmm-virtio-blk sector ";
        u32 n = sizeof(text) - 1;
        memcpy(p, text, n);
        p[n++] = (u8)('0' + s);
        p[n++] = '\n';
        for (; n < 512; n++) p[n] = (u8)(n + s);
    }
}

static void test_blk(int explicit)
{
    struct vdev *d = virtio_find(devs, ndev, VIRTIO_ID_BLK);
    if (!d) { if (explicit) fail("blk: no device", 0); pstr("blk: no device\n"); return; }
    const char *err = blk_init(d, 0);
    if (err) fail("blk: init: ", err);
    u64 cap = vcfg64(d, 0);
    pstr("blk: capacity "); pdec64(cap); pstr(" sectors\n");
    int ro = (d->features & FEAT(VIRTIO_BLK_F_RO)) != 0;
    if (ro) pstr("blk: read-only\n");

    int r = blk_req(d, BLK_T_IN, 0, bbuf, 512);
    if (r) blk_fail("read sector 0", r);
    pstr("blk: sector0 "); pprintable(bbuf, 16); pchar('\n');
    if (cap < 9) fail("blk: capacity below 9 sectors", 0);

    blk_pattern(bexp);
    memcpy(bbuf, bexp, sizeof(bbuf));
    r = blk_req(d, BLK_T_OUT, 1, bbuf, sizeof(bbuf));
    if (ro) {
        if (r != BLK_S_IOERR) blk_fail("write to read-only device", r);
        pstr("blk: read-only write rejected\n");
    } else {
        if (r) blk_fail("write", r);
        pstr("blk: write ok\n");
        if (d->features & FEAT(VIRTIO_BLK_F_FLUSH)) {
            r = blk_req(d, BLK_T_FLUSH, 0, 0, 0);
            if (r) blk_fail("flush", r);
            pstr("blk: flush ok\n");
        } else {
            pstr("blk: flush not offered\n");
        }
        memset(bbuf, 0, sizeof(bbuf));
        r = blk_req(d, BLK_T_IN, 1, bbuf, sizeof(bbuf));
        if (r) blk_fail("read back", r);
        for (u32 i = 0; i < sizeof(bbuf); i++) {
            if (bbuf[i] != bexp[i]) {
                pstr("FAIL blk: read back mismatch at byte "); pdec(i);
                pstr(": got 0x"); phex(bbuf[i]); pstr(" want 0x"); phex(bexp[i]); pchar('\n');
                debug_exit(1);
            }
        }
        pstr("blk: read back ok\n");
    }

    memset(bbuf, 0, 32);
    r = blk_req(d, BLK_T_GET_ID, 0, bbuf, 20);
    if (r == BLK_S_UNSUPP) pstr("blk: id unsupported\n");
    else if (r) blk_fail("get id", r);
    else {
        pstr("blk: id ");
        for (u32 i = 0; i < 20 && bbuf[i]; i++) pprintable(&bbuf[i], 1);
        pchar('\n');
    }
}

/* test=blkseq: block i (4 KiB at byte offset 4096 * i) filled with the 32-bit word i,
 * for i = 1..count, one request at a time; "blk: acked <i>" after each completion,
 * then delay=<ms> of TSC. The host checks which blocks reached the image. */
static void test_blkseq(u32 count, u32 delay_ms)
{
    struct vdev *d = virtio_find(devs, ndev, VIRTIO_ID_BLK);
    if (!d) fail("blk: no device", 0);
    const char *err = blk_init(d, 0);
    if (err) fail("blk: init: ", err);
    if (d->features & FEAT(VIRTIO_BLK_F_RO)) fail("blk: read-only device", 0);
    u64 cap = vcfg64(d, 0);
    if (cap < ((u64)count + 1) * 8) fail("blk: capacity below count + 1 blocks", 0);
    pstr("blk: sequence of "); pdec(count); pstr(" blocks\n");
    volatile u32 *words = (volatile u32 *)bbuf;
    for (u32 i = 1; i <= count; i++) {
        for (u32 k = 0; k < sizeof(bbuf) / 4; k++) words[k] = i;
        int r = blk_req(d, BLK_T_OUT, (u64)i * 8, bbuf, sizeof(bbuf));
        if (r) blk_fail("sequence write", r);
        pstr("blk: acked "); pdec(i); pchar('\n');
        u64 end = rdtsc() + (u64)delay_ms * TSC_MS;
        while (rdtsc() < end) __asm__ volatile("pause");
    }
    pstr("blk: sequence done\n");
    /* Read every block back: what the guest reads must be what it wrote (after a
     * migration, from the destination's disk). */
    for (u32 i = 1; i <= count; i++) {
        int r = blk_req(d, BLK_T_IN, (u64)i * 8, bbuf, sizeof(bbuf));
        if (r) blk_fail("sequence read", r);
        for (u32 k = 0; k < sizeof(bbuf) / 4; k++)
            if (words[k] != i) { pstr("FAIL blk: block "); pdec(i); pstr(" reads back "); pdec(words[k]); pchar('\n'); debug_exit(1); }
    }
    pstr("blk: sequence verified\n");
}

/* test=writer: the "one writer" probe of the HA tests. Sector 0 gets, every delay=<ms>
 * (default 20), the text "writer ID SEQ\n": ID this boot's instance (from the TSC at
 * boot), SEQ counting from 1; "writer: instance ID" first, then nothing more. Two
 * instances writing the same disk at once show as IDs that alternate in sector 0. */
static u32 put_dec(char *p, u32 v)
{
    char digits[10];
    u32 n = 0;
    do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (u32 i = 0; i < n; i++) p[i] = digits[n - 1 - i];
    return n;
}

static void test_writer(u32 delay_ms) __attribute__((noreturn));
static void test_writer(u32 delay_ms)
{
    struct vdev *d = virtio_find(devs, ndev, VIRTIO_ID_BLK);
    if (!d) fail("blk: no device", 0);
    const char *err = blk_init(d, 0);
    if (err) fail("blk: init: ", err);
    u32 id = (u32)(rdtsc() >> 4) | 1;
    pstr("writer: instance "); pdec(id); pchar('\n');
    for (u32 seq = 1;; seq++) {
        memset(bbuf, 0, 512);
        static const char text[] = "writer ";
        char *p = (char *)bbuf;
        memcpy(p, text, sizeof(text) - 1);
        p += sizeof(text) - 1;
        p += put_dec(p, id);
        *p++ = ' ';
        p += put_dec(p, seq);
        *p = '\n';
        int r = blk_req(d, BLK_T_OUT, 0, bbuf, 512);
        if (r) blk_fail("writer", r);
        u64 end = rdtsc() + (u64)delay_ms * TSC_MS;
        while (rdtsc() < end) __asm__ volatile("pause");
    }
}

/* ================= net ================= */
#define NET_HDR 12
#define NET_RXN 16
#define NET_BUF 2048
#define ETHERTYPE_TEST 0x88b5
static u8 rxbufs[NET_RXN][NET_BUF] __attribute__((aligned(4096)));
static u8 txbuf[128] __attribute__((aligned(64)));

static void pmac(const u8 *m) { for (int i = 0; i < 6; i++) { if (i) pchar(':'); phex2(m[i]); } }

static void test_net(int explicit, u32 timeout_s)
{
    struct vdev *d = virtio_find(devs, ndev, VIRTIO_ID_NET);
    if (!d) { if (explicit) fail("net: no device", 0); pstr("net: no device\n"); return; }
    int r = vdev_negotiate(d, FEAT(VIRTIO_NET_F_MAC));
    if (r) fail("net: init: ", negotiate_err(r));
    int rxn = vq_setup(d, 0, NET_RXN, 0), txn = vq_setup(d, 1, 4, 0);
    if (rxn <= 0 || txn <= 0) fail("net: init: no rx/tx queue", 0);
    struct virtq *rx = &d->vq[0], *tx = &d->vq[1];
    for (int i = 0; i < rxn; i++) {
        set_desc(rx, (u16)i, rxbufs[i], NET_BUF, VIRTQ_DESC_F_WRITE, 0);
        vq_push(rx, (u16)i);
    }
    vq_publish(rx);
    vdev_driver_ok(d);
    vq_notify(rx);

    u8 mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
    if (d->features & FEAT(VIRTIO_NET_F_MAC)) {
        for (int i = 0; i < 6; i++) mac[i] = vcfg8(d, (u32)i);
        pstr("net: mac "); pmac(mac); pchar('\n');
    } else {
        pstr("net: mac none, using "); pmac(mac); pchar('\n');
    }

    /* virtio-net header (all zero) + broadcast frame, ethertype 0x88b5 */
    memset(txbuf, 0, sizeof(txbuf));
    u8 *f = txbuf + NET_HDR;
    memset(f, 0xff, 6);
    memcpy(f + 6, mac, 6);
    f[12] = ETHERTYPE_TEST >> 8; f[13] = ETHERTYPE_TEST & 0xff;
    static const char payload[] = "vmm-virtio-net-test from ";
    u32 n = 14;
    memcpy(f + n, payload, sizeof(payload) - 1); n += sizeof(payload) - 1;
    for (int i = 0; i < 6; i++) {
        if (i) f[n++] = ':';
        f[n++] = (u8)"0123456789abcdef"[mac[i] >> 4];
        f[n++] = (u8)"0123456789abcdef"[mac[i] & 15];
    }
    if (n < 60) n = 60;                       /* minimum frame (zero padding) */
    set_desc(tx, 0, txbuf, NET_HDR + n, 0, 0);
    vq_submit(tx, 0);
    u32 id, len;
    r = vq_poll(d, tx, 5000 * TSC_MS, &id, &len);
    if (r == 0) fail("net: send: timeout", 0);
    if (r < 0) fail("net: send: device needs reset", 0);
    pstr("net: sent\n");

    u64 end = rdtsc() + (u64)timeout_s * 1000 * TSC_MS;
    for (;;) {
        u64 now = rdtsc();
        if (now >= end) fail("net: no frame with ethertype 0x88b5 received", 0);
        r = vq_poll(d, rx, end - now, &id, &len);
        if (r == 0) fail("net: no frame with ethertype 0x88b5 received", 0);
        if (r < 0) fail("net: receive: device needs reset", 0);
        if (id >= (u32)rxn) fail("net: receive: bad used id", 0);
        const u8 *fr = rxbufs[id] + NET_HDR;
        u32 fl = len > NET_BUF ? 0 : len >= NET_HDR ? len - NET_HDR : 0;
        if (fl >= 14 && fr[12] == (ETHERTYPE_TEST >> 8) && fr[13] == (ETHERTYPE_TEST & 0xff)) {
            pstr("net: received ");
            for (u32 i = 14; i < fl && i < 14 + 100 && fr[i] >= 0x20 && fr[i] < 0x7f; i++) pchar((char)fr[i]);
            pchar('\n');
            break;
        }
        vq_push(rx, (u16)id);                 /* something else: recycle the buffer */
        vq_publish(rx);
        vq_notify(rx);
    }
    vdev_reset(d);
}

/* ================= rng ================= */
static u8 rngbuf[32] __attribute__((aligned(64)));

static void test_rng(int explicit)
{
    struct vdev *d = virtio_find(devs, ndev, VIRTIO_ID_RNG);
    if (!d) { if (explicit) fail("rng: no device", 0); pstr("rng: no device\n"); return; }
    int r = vdev_negotiate(d, 0);
    if (r) fail("rng: init: ", negotiate_err(r));
    if (vq_setup(d, 0, 4, 0) <= 0) fail("rng: init: no queue 0", 0);
    vdev_driver_ok(d);
    struct virtq *q = &d->vq[0];
    memset(rngbuf, 0, sizeof(rngbuf));
    u32 got = 0;
    for (int tries = 0; got < sizeof(rngbuf) && tries < 16; tries++) {
        set_desc(q, 0, rngbuf + got, sizeof(rngbuf) - got, VIRTQ_DESC_F_WRITE, 0);
        vq_submit(q, 0);
        u32 id, len;
        r = vq_poll(d, q, 5000 * TSC_MS, &id, &len);
        if (r == 0) fail("rng: timeout", 0);
        if (r < 0) fail("rng: device needs reset", 0);
        got += len < sizeof(rngbuf) - got ? len : sizeof(rngbuf) - got;
    }
    pstr("rng: "); pdec(got); pstr(" bytes\n");
    if (got < sizeof(rngbuf)) fail("rng: short read", 0);
    u8 any = 0;
    for (u32 i = 0; i < sizeof(rngbuf); i++) any |= rngbuf[i];
    if (!any) fail("rng: all bytes zero", 0);
    vdev_reset(d);
}

/* ================= hostile modes (blk) ================= */
#define HOSTILE_WAIT (2000 * TSC_MS)
static struct virtq_desc itab[4] __attribute__((aligned(16)));
static struct virtq_desc itab2[4] __attribute__((aligned(16)));
static const struct mb_info *g_mbi;

static void hprefix(const char *name) { pstr("hostile "); pstr(name); pstr(": "); }

/* prints "used entry id=<id> len=<len>, status byte <...>" or "no used entry" */
static void print_used(struct vdev *d, struct virtq *q, u64 ticks)
{
    u32 id = 0, len = 0;
    int r = vq_poll(d, q, ticks, &id, &len);
    if (r < 0 && q->used->idx != q->last_used) r = vq_poll(d, q, 0, &id, &len);
    if (r == 1) {
        pstr("used entry id="); pdec(id); pstr(" len="); pdec(len); pstr(", ");
        if (bstatus == STATUS_UNWRITTEN) pstr("status byte unwritten");
        else { pstr("status byte "); pdec(bstatus); }
    } else {
        pstr("no used entry");
    }
}

static void print_devstatus(struct vdev *d)
{
    u8 s = vdev_status(d);
    pstr(", device status 0x"); phex(s);
    if (s & VIRTIO_ST_NEEDS_RESET) pstr(" NEEDS_RESET");
    if (s & VIRTIO_ST_FAILED) pstr(" FAILED");
}

/* one line: "hostile <name>: <used entry...>, device status 0x<s>[ NEEDS_RESET]" */
static void observe(const char *name, struct vdev *d)
{
    hprefix(name);
    print_used(d, &d->vq[0], HOSTILE_WAIT);
    print_devstatus(d);
    pchar('\n');
}

static void hinit(const char *name, struct vdev *d, u64 extra)
{
    const char *err = blk_init(d, extra);
    if (err) { pstr("FAIL hostile "); pstr(name); pstr(": init: "); pstr(err); pchar('\n'); debug_exit(1); }
}

/* end of a type-1 memory-map region containing 1 MiB (0 if unknown) */
static u64 ram_end(void)
{
    if (!(g_mbi->flags & 0x40)) return 0;
    for (u32 a = g_mbi->mmap_addr; a < g_mbi->mmap_addr + g_mbi->mmap_length;) {
        const struct mb_mmap *e = (const struct mb_mmap *)a;
        if (e->type == 1 && e->addr <= 0x100000 && e->addr + e->len > 0x100000) return e->addr + e->len;
        a += e->size + 4;
    }
    return 0;
}

static void hostile_run(const char *name, struct vdev *d)
{
    struct virtq *q = &d->vq[0];
    if (streq(name, "loop")) {
        /* header descriptor whose next points at itself */
        hinit(name, d, 0);
        blk_build(q, BLK_T_IN, 0, scratch, 512, 0, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_WRITE);
        set_desc(q, 0, &bhdr, sizeof(bhdr), VIRTQ_DESC_F_NEXT, 0);
        vq_submit(q, 0);
        observe(name, d);
    } else if (streq(name, "long")) {
        /* header + writable data descriptors 1..n-1, the last one's next wrapping
         * around to 1: an endless chain with no direction-order violation */
        hinit(name, d, 0);
        blk_build(q, BLK_T_IN, 0, scratch, 512, 0, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_WRITE);
        u16 n = q->size;
        set_desc(q, 0, &bhdr, sizeof(bhdr), VIRTQ_DESC_F_NEXT, 1);
        for (u16 i = 1; i < n; i++)
            set_desc(q, i, scratch + ((i - 1) % 8) * 512, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
                     (u16)(i + 1 < n ? i + 1 : 1));
        vq_submit(q, 0);
        observe(name, d);
    } else if (streq(name, "oob") || streq(name, "oob32") || streq(name, "straddle")) {
        /* read into a buffer beyond guest RAM (64 GiB, 0xF0000000) or across its end */
        hinit(name, d, 0);
        u64 addr = 0x1000000000ull;
        if (streq(name, "oob32")) addr = 0xf0000000u;
        if (streq(name, "straddle")) {
            addr = ram_end();
            if (!addr) { hprefix(name); pstr("no memory map, skipped\n"); return; }
            addr -= 256;
        }
        blk_build(q, BLK_T_IN, 0, scratch, 512, 0, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_WRITE);
        q->desc[1].addr = addr;
        vq_submit(q, 0);
        observe(name, d);
    } else if (streq(name, "huge")) {
        hinit(name, d, 0);
        blk_build(q, BLK_T_IN, 0, scratch, 0xfffffff0u, 0, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_WRITE);
        vq_submit(q, 0);
        observe(name, d);
    } else if (streq(name, "direction")) {
        /* request header device-writable, status byte device-readable */
        hinit(name, d, 0);
        blk_build(q, BLK_T_IN, 0, scratch, 512, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_WRITE, 0);
        vq_submit(q, 0);
        observe(name, d);
    } else if (streq(name, "size")) {
        /* queue size 3 (not a power of two) */
        int r = vdev_negotiate(d, 0);
        hprefix(name);
        if (r) { pstr("init failed: "); pstr(negotiate_err(r)); pchar('\n'); }
        else {
            vq_setup(d, 0, 3, 1);
            mw16(d->common + VC_QSELECT, 0);
            u16 qs = mr16(d->common + VC_QSIZE), qe = mr16(d->common + VC_QENABLE);
            pstr("queue_size reads "); pdec(qs);
            pstr(", queue_enable reads "); pdec(qe);
            vdev_driver_ok(d);
            u8 s = vdev_status(d);
            pstr(", status after DRIVER_OK 0x"); phex(s);
            if (qs == 3 && qe == 1 && !(s & (VIRTIO_ST_NEEDS_RESET | VIRTIO_ST_FAILED))) {
                pstr(", read: ");
                blk_build(q, BLK_T_IN, 0, scratch, 512, 0, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_WRITE);
                vq_submit(q, 0);
                print_used(d, q, HOSTILE_WAIT);
            } else {
                pstr(", no read attempted");
            }
            print_devstatus(d);
            pchar('\n');
        }
    } else if (streq(name, "early")) {
        /* queue a valid read and notify before DRIVER_OK */
        int r = vdev_negotiate(d, 0);
        hprefix(name);
        if (r || vq_setup(d, 0, 16, 0) < 0) { pstr("init failed: "); pstr(r ? negotiate_err(r) : "no queue 0"); pchar('\n'); }
        else {
            blk_build(q, BLK_T_IN, 0, scratch, 512, 0, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_WRITE);
            vq_submit(q, 0);
            pstr("before DRIVER_OK ");
            print_used(d, q, 500 * TSC_MS);
            u32 before = q->last_used;
            vdev_driver_ok(d);
            vq_notify(q);
            pstr(", after DRIVER_OK ");
            if (before) pstr("-");
            else print_used(d, q, HOSTILE_WAIT);
            print_devstatus(d);
            pchar('\n');
        }
    } else if (streq(name, "index")) {
        /* avail->idx moved by more than the queue size */
        hinit(name, d, 0);
        blk_build(q, BLK_T_IN, 0, scratch, 512, 0, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_WRITE);
        vq_push(q, 0);
        q->next_avail = (u16)(q->next_avail + q->size + 5);
        vq_publish(q);
        vq_notify(q);
        observe(name, d);
    } else if (streq(name, "indirect") || streq(name, "nested")) {
        /* indirect table of 56 bytes (not a multiple of 16) / an indirect descriptor inside one */
        hinit(name, d, FEAT(VIRTIO_F_INDIRECT_DESC));
        if (!(d->features & FEAT(VIRTIO_F_INDIRECT_DESC))) {
            hprefix(name); pstr("INDIRECT_DESC not offered, using it anyway\n");
        }
        bhdr.type = BLK_T_IN; bhdr.reserved = 0; bhdr.sector = 0;
        bstatus = STATUS_UNWRITTEN;
        struct virtq_desc *t = streq(name, "nested") ? itab2 : itab;
        t[0] = (struct virtq_desc){ (u32)&bhdr, sizeof(bhdr), VIRTQ_DESC_F_NEXT, 1 };
        t[1] = (struct virtq_desc){ (u32)scratch, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2 };
        t[2] = (struct virtq_desc){ (u32)&bstatus, 1, VIRTQ_DESC_F_WRITE, 0 };
        if (t == itab2) {
            itab[0] = (struct virtq_desc){ (u32)itab2, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0 };
            set_desc(q, 0, itab, 16, VIRTQ_DESC_F_INDIRECT, 0);
        } else {
            set_desc(q, 0, itab, 3 * 16 + 8, VIRTQ_DESC_F_INDIRECT, 0);
        }
        mb();
        vq_submit(q, 0);
        observe(name, d);
    } else {
        fail("unknown hostile mode ", name);
    }

    /* reset, initialize again, one valid read */
    const char *err = blk_init(d, 0);
    int r = err ? 0 : blk_req(d, BLK_T_IN, 0, bbuf, 512);
    if (err || r) {
        pstr("FAIL hostile "); pstr(name); pstr(": device broken after reset: ");
        if (err) pstr(err); else pstatus(r);
        pchar('\n');
        debug_exit(1);
    }
    hprefix(name); pstr("device works after reset\n");
}

static const char *const hostile_all[] = {
    "loop", "long", "oob", "oob32", "straddle", "huge", "direction", "size", "early",
    "index", "indirect", "nested", 0
};

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic;
    g_mbi = mbi;
    char test[16], hostile[16];
    if (!cmdline_str(mbi, "test", test, sizeof(test))) memcpy(test, "all", 4);
    u32 timeout_s = cmdline_uint(mbi, "timeout", 20);

    ndev = virtio_scan(devs, VDEV_MAX);

    if (cmdline_str(mbi, "hostile", hostile, sizeof(hostile))) {
        struct vdev *d = virtio_find(devs, ndev, VIRTIO_ID_BLK);
        if (!d) fail("hostile: no blk device", 0);
        if (streq(hostile, "all")) {
            for (int i = 0; hostile_all[i]; i++) hostile_run(hostile_all[i], d);
        } else {
            hostile_run(hostile, d);
        }
    } else {
        int all = streq(test, "all");
        if (streq(test, "writer")) test_writer(cmdline_uint(mbi, "delay", 20));
        if (streq(test, "blkseq")) {
            test_blkseq(cmdline_uint(mbi, "count", 1000), cmdline_uint(mbi, "delay", 0));
            pstr("virtio: done\n");
            return 0;
        }
        if (!all && !streq(test, "blk") && !streq(test, "net") && !streq(test, "rng"))
            fail("unknown test ", test);
        if (all || streq(test, "blk")) test_blk(!all);
        if (all || streq(test, "net")) test_net(!all, timeout_s);
        if (all || streq(test, "rng")) test_rng(!all);
    }
    pstr("virtio: done\n");
    return 0;
}
