/* Minimal virtio 1.x ("modern") PCI driver library for the guest test kernels:
 * PCI configuration mechanism #1 (0xcf8/0xcfc) on bus 0, the virtio capability
 * list, device initialization and polled split virtqueues (no interrupts).
 * 32-bit, paging off: guest-physical address == pointer. */
#ifndef VIRTIO_PCI_H
#define VIRTIO_PCI_H
#include "rt.h"

#define TSC_MS 3000000ull           /* TSC ticks per "millisecond", assuming ~3 GHz */

/* ---- PCI ---- */
#define PCI_BDF(b, d, f) (((u32)(b) << 8) | ((u32)(d) << 3) | (u32)(f))
u32 pci_read32(u32 bdf, u32 off);
void pci_write32(u32 bdf, u32 off, u32 v);
u16 pci_read16(u32 bdf, u32 off);
void pci_write16(u32 bdf, u32 off, u16 v);
u8 pci_read8(u32 bdf, u32 off);
void pci_print_bdf(u32 bdf);         /* "bb:dd.f" (hex) */

/* ---- MMIO of exact width ---- */
static inline u8 mr8(u32 a) { return *(volatile u8 *)a; }
static inline u16 mr16(u32 a) { return *(volatile u16 *)a; }
static inline u32 mr32(u32 a) { return *(volatile u32 *)a; }
static inline void mw8(u32 a, u8 v) { *(volatile u8 *)a = v; }
static inline void mw16(u32 a, u16 v) { *(volatile u16 *)a = v; }
static inline void mw32(u32 a, u32 v) { *(volatile u32 *)a = v; }
/* full barrier without mfence (the KVM instruction emulator handles a locked add) */
static inline void mb(void) { __asm__ volatile("lock; orl $0, (%%esp)" ::: "memory", "cc"); }

/* ---- virtio constants ---- */
#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLK 2
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BALLOON 5

#define VIRTIO_ST_ACK 1
#define VIRTIO_ST_DRIVER 2
#define VIRTIO_ST_DRIVER_OK 4
#define VIRTIO_ST_FEATURES_OK 8
#define VIRTIO_ST_NEEDS_RESET 64
#define VIRTIO_ST_FAILED 128

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_NET_F_MAC 5
#define FEAT(b) (1ull << (b))

/* common configuration structure (cfg_type 1) */
#define VC_DFSELECT 0x00
#define VC_DF 0x04
#define VC_GFSELECT 0x08
#define VC_GF 0x0c
#define VC_MSIX 0x10
#define VC_NUMQ 0x12
#define VC_STATUS 0x14
#define VC_GENERATION 0x15
#define VC_QSELECT 0x16
#define VC_QSIZE 0x18
#define VC_QMSIX 0x1a
#define VC_QENABLE 0x1c
#define VC_QNOTIFYOFF 0x1e
#define VC_QDESC 0x20
#define VC_QDRIVER 0x28
#define VC_QDEVICE 0x30

/* split virtqueue */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_desc { u64 addr; u32 len; u16 flags; u16 next; };
struct virtq_avail { u16 flags, idx, ring[]; };
struct virtq_used_elem { u32 id, len; };
struct virtq_used { u16 flags, idx; struct virtq_used_elem ring[]; };

#define VQ_MAX 64                     /* ring memory holds queues of up to 64 entries */
#define VQ_PER_DEV 4
#define VDEV_MAX 8

struct virtq {
    u16 index, size;                  /* queue index, negotiated size */
    u16 next_avail, last_used;        /* driver's shadow indices */
    volatile struct virtq_desc *desc;
    volatile struct virtq_avail *avail;
    volatile struct virtq_used *used;
    u32 notify;                       /* notification address */
};

struct vdev {
    u32 bdf;
    u16 device_id, type;              /* type = device_id - 0x1040 */
    u32 common, notify_base, notify_mul, isr, devcfg;  /* MMIO addresses */
    u64 offered, features;
    struct virtq vq[VQ_PER_DEV];
    u8 *ring;                         /* VQ_PER_DEV pages */
};

const char *virtio_type_name(u32 type);   /* "net", "blk", "rng" or 0 */

/* Walks bus 0, fills devs[] with modern virtio functions (capabilities parsed,
 * memory space + bus master enabled), printing "virtio: <bdf> <name> 1af4:<id>"
 * for each (and a line for functions it ignores). Returns the count. */
int virtio_scan(struct vdev *devs, int max);
struct vdev *virtio_find(struct vdev *devs, int n, u32 type);

u8 vdev_status(struct vdev *d);
void vdev_set_status(struct vdev *d, u8 s);
int vdev_reset(struct vdev *d);          /* writes 0, waits for 0; 0 ok, -1 timeout */
/* reset, ACKNOWLEDGE, DRIVER, features = offered & (want | VERSION_1), FEATURES_OK.
 * Returns 0, -1 (VERSION_1 not offered), -2 (FEATURES_OK did not stick) or
 * -3 (the reset did not complete: status not 0 within ~1 s). */
int vdev_negotiate(struct vdev *d, u64 want);
/* Sets up queue qi with min(size, max, VQ_MAX) entries (exact: write size as is).
 * Returns the size used, or -1 if the queue does not exist. */
int vq_setup(struct vdev *d, int qi, u16 size, int exact);
void vdev_driver_ok(struct vdev *d);

void vq_notify(struct virtq *q);
void vq_push(struct virtq *q, u16 head);       /* add to the avail ring, no notify */
void vq_publish(struct virtq *q);              /* write avail->idx = next_avail */
void vq_submit(struct virtq *q, u16 head);     /* push + publish + notify */
/* Waits for the next used entry: 1 found (*id, *len), 0 timeout,
 * -1 the device set NEEDS_RESET (or FAILED) meanwhile. */
int vq_poll(struct vdev *d, struct virtq *q, u64 ticks, u32 *id, u32 *len);

u8 vcfg8(struct vdev *d, u32 off);
u16 vcfg16(struct vdev *d, u32 off);
u32 vcfg32(struct vdev *d, u32 off);
u64 vcfg64(struct vdev *d, u32 off);           /* generation-checked */

#endif
