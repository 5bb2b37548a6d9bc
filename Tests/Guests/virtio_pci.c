/* Minimal virtio 1.x PCI driver library (see virtio_pci.h). */
#include "virtio_pci.h"

static inline u32 inl(u16 p) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }

/* ---- PCI configuration mechanism #1 ---- */
static void pci_addr(u32 bdf, u32 off) { outl(0xcf8, 0x80000000u | (bdf << 8) | (off & 0xfc)); }

u32 pci_read32(u32 bdf, u32 off) { pci_addr(bdf, off); return inl(0xcfc); }
void pci_write32(u32 bdf, u32 off, u32 v) { pci_addr(bdf, off); outl(0xcfc, v); }
u16 pci_read16(u32 bdf, u32 off) { pci_addr(bdf, off); return inw((u16)(0xcfc + (off & 2))); }
void pci_write16(u32 bdf, u32 off, u16 v) { pci_addr(bdf, off); outw((u16)(0xcfc + (off & 2)), v); }
u8 pci_read8(u32 bdf, u32 off) { pci_addr(bdf, off); return inb((u16)(0xcfc + (off & 3))); }

static void phex2(u32 v) { pchar("0123456789abcdef"[(v >> 4) & 15]); pchar("0123456789abcdef"[v & 15]); }

void pci_print_bdf(u32 bdf)
{
    phex2(bdf >> 8); pchar(':'); phex2((bdf >> 3) & 31); pchar('.'); pchar((char)('0' + (bdf & 7)));
}

const char *virtio_type_name(u32 type)
{
    switch (type) {
    case VIRTIO_ID_NET: return "net";
    case VIRTIO_ID_BLK: return "blk";
    case VIRTIO_ID_RNG: return "rng";
    case VIRTIO_ID_BALLOON: return "balloon";
    default: return 0;
    }
}

/* ---- capabilities ---- */
static u8 ring_mem[VDEV_MAX][VQ_PER_DEV][4096] __attribute__((aligned(4096)));

/* BAR address (below 4 GiB, memory), 0 if unusable */
static u32 bar_addr(u32 bdf, u32 bar)
{
    if (bar > 5) return 0;
    u32 lo = pci_read32(bdf, 0x10 + 4 * bar);
    if (lo & 1) return 0;                         /* I/O BAR: not supported */
    if (((lo >> 1) & 3) == 2) {
        if (bar == 5 || pci_read32(bdf, 0x10 + 4 * (bar + 1))) return 0;  /* above 4 GiB */
    }
    return lo & ~0xfu;
}

/* Parses the vendor-specific capabilities; returns 0 or a reason. */
static const char *vdev_caps(struct vdev *d)
{
    u32 bdf = d->bdf;
    d->common = d->notify_base = d->isr = d->devcfg = 0;
    if (!(pci_read16(bdf, 0x06) & 0x10)) return "no capability list";
    u32 p = pci_read8(bdf, 0x34) & 0xfc;
    for (int guard = 0; p && guard < 48; guard++) {
        u8 id = pci_read8(bdf, p), next = pci_read8(bdf, p + 1);
        if (id == 0x09) {
            u8 cfg_type = pci_read8(bdf, p + 3), bar = pci_read8(bdf, p + 4);
            u32 off = pci_read32(bdf, p + 8);
            u32 base = bar_addr(bdf, bar);
            u32 a = base ? base + off : 0;
            switch (cfg_type) {
            case 1: if (!d->common) d->common = a; break;
            case 2:
                if (!d->notify_base) { d->notify_base = a; d->notify_mul = pci_read32(bdf, p + 16); }
                break;
            case 3: if (!d->isr) d->isr = a; break;
            case 4: if (!d->devcfg) d->devcfg = a; break;
            default: break;
            }
        }
        p = next & 0xfc;
    }
    if (!d->common) return "no usable common cfg";
    if (!d->notify_base) return "no usable notify cfg";
    if (!d->isr) return "no usable isr cfg";
    return 0;
}

int virtio_scan(struct vdev *devs, int max)
{
    int n = 0;
    for (u32 dev = 0; dev < 32; dev++) {
        for (u32 fn = 0; fn < 8; fn++) {
            u32 bdf = PCI_BDF(0, dev, fn);
            u32 id = pci_read32(bdf, 0);
            if ((id & 0xffff) == 0xffff) { if (fn == 0) break; continue; }
            int multi = fn == 0 && (pci_read8(bdf, 0x0e) & 0x80);
            u16 vendor = (u16)id, device = (u16)(id >> 16);
            if (vendor == VIRTIO_VENDOR && device >= 0x1000 && device < 0x1080) {
                pstr("virtio: "); pci_print_bdf(bdf);
                if (device < 0x1040) {
                    pstr(" legacy 1af4:"); phex(device); pstr(" ignored\n");
                } else if (n >= max) {
                    pstr(" too many devices, ignored\n");
                } else {
                    struct vdev *d = &devs[n];
                    memset(d, 0, sizeof(*d));
                    d->bdf = bdf; d->device_id = device; d->type = (u16)(device - 0x1040);
                    d->ring = ring_mem[n][0];
                    const char *name = virtio_type_name(d->type);
                    pchar(' ');
                    if (name) pstr(name); else { pstr("type"); pdec(d->type); }
                    pstr(" 1af4:"); phex(device);
                    const char *err = vdev_caps(d);
                    if (err) { pstr(" ignored: "); pstr(err); pchar('\n'); }
                    else {
                        /* memory space + bus master (+ INTx disable: we poll) */
                        pci_write16(bdf, 0x04, (u16)(pci_read16(bdf, 0x04) | 0x0406));
                        pchar('\n');
                        n++;
                    }
                }
            }
            if (fn == 0 && !multi) break;
        }
    }
    return n;
}

struct vdev *virtio_find(struct vdev *devs, int n, u32 type)
{
    for (int i = 0; i < n; i++) if (devs[i].type == type) return &devs[i];
    return 0;
}

/* ---- device status / features ---- */
u8 vdev_status(struct vdev *d) { return mr8(d->common + VC_STATUS); }
void vdev_set_status(struct vdev *d, u8 s) { mw8(d->common + VC_STATUS, s); }

int vdev_reset(struct vdev *d)
{
    vdev_set_status(d, 0);
    u64 end = rdtsc() + 1000 * TSC_MS;
    while (vdev_status(d)) { if (rdtsc() > end) return -1; cpu_relax(); }
    for (int i = 0; i < VQ_PER_DEV; i++) memset(&d->vq[i], 0, sizeof(d->vq[i]));
    d->features = 0;
    return 0;
}

int vdev_negotiate(struct vdev *d, u64 want)
{
    if (vdev_reset(d)) return -3;
    vdev_set_status(d, VIRTIO_ST_ACK);
    vdev_set_status(d, VIRTIO_ST_ACK | VIRTIO_ST_DRIVER);
    mw32(d->common + VC_DFSELECT, 0);
    u32 lo = mr32(d->common + VC_DF);
    mw32(d->common + VC_DFSELECT, 1);
    u32 hi = mr32(d->common + VC_DF);
    d->offered = ((u64)hi << 32) | lo;
    if (!(d->offered & FEAT(VIRTIO_F_VERSION_1))) {
        vdev_set_status(d, VIRTIO_ST_ACK | VIRTIO_ST_DRIVER | VIRTIO_ST_FAILED);
        return -1;
    }
    d->features = d->offered & (want | FEAT(VIRTIO_F_VERSION_1));
    mw32(d->common + VC_GFSELECT, 0);
    mw32(d->common + VC_GF, (u32)d->features);
    mw32(d->common + VC_GFSELECT, 1);
    mw32(d->common + VC_GF, (u32)(d->features >> 32));
    vdev_set_status(d, VIRTIO_ST_ACK | VIRTIO_ST_DRIVER | VIRTIO_ST_FEATURES_OK);
    if (!(vdev_status(d) & VIRTIO_ST_FEATURES_OK)) {
        vdev_set_status(d, VIRTIO_ST_ACK | VIRTIO_ST_DRIVER | VIRTIO_ST_FAILED);
        return -2;
    }
    return 0;
}

static void mw64(u32 a, u64 v) { mw32(a, (u32)v); mw32(a + 4, (u32)(v >> 32)); }

int vq_setup(struct vdev *d, int qi, u16 size, int exact)
{
    struct virtq *q = &d->vq[qi];
    u32 c = d->common;
    mw16(c + VC_QSELECT, (u16)qi);
    u16 max = mr16(c + VC_QSIZE);
    if (!max) return -1;
    if (!exact) {
        if (size > max) size = max;
        if (size > VQ_MAX) size = VQ_MAX;
    }
    u8 *mem = d->ring + 4096 * qi;
    memset(mem, 0, 4096);
    q->index = (u16)qi; q->size = size; q->next_avail = q->last_used = 0;
    q->desc = (volatile struct virtq_desc *)mem;
    q->avail = (volatile struct virtq_avail *)(mem + 1024);
    q->used = (volatile struct virtq_used *)(mem + 2048);
    q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
    mw16(c + VC_QSIZE, size);
    mw16(c + VC_QMSIX, 0xffff);                   /* VIRTIO_MSI_NO_VECTOR */
    mw64(c + VC_QDESC, (u32)q->desc);
    mw64(c + VC_QDRIVER, (u32)q->avail);
    mw64(c + VC_QDEVICE, (u32)q->used);
    q->notify = d->notify_base + (u32)mr16(c + VC_QNOTIFYOFF) * d->notify_mul;
    mw16(c + VC_QENABLE, 1);
    return size;
}

void vdev_driver_ok(struct vdev *d)
{
    vdev_set_status(d, (u8)(vdev_status(d) | VIRTIO_ST_DRIVER_OK));
}

/* ---- virtqueue use ---- */
void vq_notify(struct virtq *q) { mb(); mw16(q->notify, q->index); }

void vq_push(struct virtq *q, u16 head)
{
    q->avail->ring[q->next_avail % q->size] = head;
    q->next_avail++;
}

void vq_publish(struct virtq *q) { mb(); q->avail->idx = q->next_avail; }

void vq_submit(struct virtq *q, u16 head) { vq_push(q, head); vq_publish(q); vq_notify(q); }

int vq_poll(struct vdev *d, struct virtq *q, u64 ticks, u32 *id, u32 *len)
{
    u64 end = rdtsc() + ticks;
    for (u32 spin = 0;; spin++) {
        if (q->used->idx != q->last_used) {
            mb();
            volatile struct virtq_used_elem *e = &q->used->ring[q->last_used % q->size];
            *id = e->id; *len = e->len;
            q->last_used++;
            return 1;
        }
        if ((spin & 63) == 0) {
            if (vdev_status(d) & (VIRTIO_ST_NEEDS_RESET | VIRTIO_ST_FAILED)) return -1;
            if (rdtsc() > end) return 0;
        }
        cpu_relax();
    }
}

/* ---- device-specific configuration ---- */
u8 vcfg8(struct vdev *d, u32 off) { return mr8(d->devcfg + off); }
u16 vcfg16(struct vdev *d, u32 off) { return mr16(d->devcfg + off); }
u32 vcfg32(struct vdev *d, u32 off) { return mr32(d->devcfg + off); }

u64 vcfg64(struct vdev *d, u32 off)
{
    for (;;) {
        u8 g = mr8(d->common + VC_GENERATION);
        u64 v = mr32(d->devcfg + off) | ((u64)mr32(d->devcfg + off + 4) << 32);
        if (mr8(d->common + VC_GENERATION) == g) return v;
    }
}
