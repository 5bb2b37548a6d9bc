/* Tiny runtime shared by the vmm guest test kernels. */
#include "rt.h"

void *memcpy(void *d, const void *s, size_t n)
{
    u8 *dp = d; const u8 *sp = s;
    while (n--) *dp++ = *sp++;
    return d;
}

void *memset(void *d, int c, size_t n)
{
    u8 *dp = d;
    while (n--) *dp++ = (u8)c;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const u8 *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y) return *x - *y;
    return 0;
}

/* ---- serial ---- */
void pchar(char c)
{
    while (!(inb(COM1 + 5) & 0x20)) cpu_relax();
    outb(COM1, (u8)c);
}

void pstr(const char *s) { while (*s) pchar(*s++); }

void pdec(u32 v)
{
    char b[11]; int i = 10;
    b[i] = 0;
    do { b[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    pstr(b + i);
}

void phex(u32 v)
{
    char b[9]; int i = 8;
    b[i] = 0;
    do { b[--i] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    pstr(b + i);
}

/* ---- misc ---- */
void debug_exit(u32 v)
{
    outb(0xf4, (u8)v);
    for (;;) __asm__ volatile("cli; hlt");
}

u64 fwcfg_read(u16 key, int n)
{
    u64 v = 0;
    outw(0x510, key);
    for (int i = 0; i < n; i++) v |= (u64)inb(0x511) << (8 * i);
    return v;
}

void pic_mask(void) { outb(0x21, 0xff); outb(0xa1, 0xff); }

void delay_tsc(u64 cycles)
{
    u64 end = rdtsc() + cycles;
    while (rdtsc() < end) cpu_relax();
}

u32 cmdline_uint(const struct mb_info *mbi, const char *key, u32 def)
{
    if (!(mbi->flags & 4) || !mbi->cmdline) return def;
    const char *s = (const char *)mbi->cmdline;
    int kl = 0;
    while (key[kl]) kl++;
    for (int start = 1; *s; s++) {
        if (start && !memcmp(s, key, kl) && s[kl] == '=') {
            u32 v = 0;
            for (s += kl + 1; *s >= '0' && *s <= '9'; s++) v = v * 10 + (u32)(*s - '0');
            return v;
        }
        start = (*s == ' ');
    }
    return def;
}

/* ---- IDT / LAPIC / IOAPIC ---- */
static u32 idt[256 * 2];

void idt_set(int vec, void *handler)
{
    u32 h = (u32)handler;
    idt[vec * 2] = (SEL_KCODE << 16) | (h & 0xffff);
    idt[vec * 2 + 1] = (h & 0xffff0000) | 0x8e00;   /* present, DPL0, 32-bit interrupt gate */
}

void idt_load(void)
{
    struct { u16 limit; u32 base; } __attribute__((packed)) d = { sizeof(idt) - 1, (u32)idt };
    __asm__ volatile("lidt %0" :: "m"(d));
}

void spurious_isr(void);
__asm__(".pushsection .text.spurious_isr,\"ax\",@progbits\n"
        "spurious_isr:\n\tpushl 8(%esp)\n\tpopfl\n\tret $8\n.popsection\n");

void lapic_enable(void)
{
    idt_set(0xff, spurious_isr);
    lapic_write(LAPIC_SVR, 0x100 | 0xff);
}

u32 lapic_id(void) { return lapic_read(LAPIC_ID) >> 24; }

#define IOAPIC 0xfec00000u
static void ioapic_write(u32 reg, u32 v) { mmio_write(IOAPIC, reg); mmio_write(IOAPIC + 0x10, v); }

void ioapic_route(int pin, int vec, u32 flags, u32 dest)
{
    ioapic_write(0x10 + 2 * pin + 1, dest << 24);
    ioapic_write(0x10 + 2 * pin, (u32)vec | flags);   /* fixed, physical, unmasked */
}

/* ---- ACPI ---- */
static const u8 *rsdp_find(void)
{
    for (u32 a = 0xe0000; a < 0x100000; a += 16)
        if (!memcmp((const void *)a, "RSD PTR ", 8)) return (const u8 *)a;
    return 0;
}

const struct acpi_hdr *acpi_find(const char *sig)
{
    const u8 *rsdp = rsdp_find();
    if (!rsdp) return 0;
    u32 xsdt_lo = *(const u32 *)(rsdp + 24), xsdt_hi = *(const u32 *)(rsdp + 28);
    int x = rsdp[15] >= 2 && xsdt_lo && !xsdt_hi;
    const struct acpi_hdr *t = (const struct acpi_hdr *)(x ? xsdt_lo : *(const u32 *)(rsdp + 16));
    int esz = x ? 8 : 4;
    const u8 *e = (const u8 *)(t + 1), *end = (const u8 *)t + t->length;
    for (; e + esz <= end; e += esz) {
        if (x && ((const u32 *)e)[1]) continue;          /* above 4 GiB: unreachable */
        const struct acpi_hdr *h = (const struct acpi_hdr *)*(const u32 *)e;
        if (h && !memcmp(h->sig, sig, 4)) return h;
    }
    return 0;
}

const struct acpi_hdr *acpi_dsdt(const struct acpi_hdr *f)
{
    if (f->length > 148 && fadt_u32(f, 140) && !fadt_u32(f, 144))
        return (const struct acpi_hdr *)fadt_u32(f, 140);
    return (const struct acpi_hdr *)fadt_u32(f, 40);
}

int acpi_s5(const struct acpi_hdr *fadt)
{
    const struct acpi_hdr *d = acpi_dsdt(fadt);
    if (!d || memcmp(d->sig, "DSDT", 4)) return -1;
    const u8 *p = (const u8 *)(d + 1), *end = (const u8 *)d + d->length;
    for (; p + 8 < end; p++) {
        if (memcmp(p, "_S5_", 4) || p[4] != 0x12) continue;
        p += 5;
        p += 1 + (*p >> 6);         /* PkgLength */
        p++;                        /* NumElements */
        if (*p == 0x0a) return p[1];
        if (*p == 0x00 || *p == 0x01) return *p;
        return -1;
    }
    return -1;
}

void acpi_poweroff(const struct acpi_hdr *fadt, int s5)
{
    outw((u16)fadt_u32(fadt, 64), (u16)((s5 << 10) | (1 << 13)));
}

/* "key=value" at a token start; copies value (up to n-1 chars) into buf. */
int cmdline_str(const struct mb_info *mbi, const char *key, char *buf, u32 n)
{
    if (!(mbi->flags & 4) || !mbi->cmdline) return 0;
    const char *s = (const char *)mbi->cmdline;
    int kl = 0;
    while (key[kl]) kl++;
    for (int start = 1; *s; s++) {
        if (start && !memcmp(s, key, kl) && s[kl] == '=') {
            u32 i = 0;
            for (s += kl + 1; *s && *s != ' ' && i + 1 < n; s++) buf[i++] = *s;
            buf[i] = 0;
            return 1;
        }
        start = (*s == ' ');
    }
    return 0;
}
