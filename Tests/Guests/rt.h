/* Tiny runtime shared by the vmm guest test kernels (32-bit, paging off). */
#ifndef RT_H
#define RT_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned int size_t;

#define MB_MAGIC 0x2BADB002u

struct mb_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline;
    u32 mods_count, mods_addr;
    u32 syms[4];
    u32 mmap_length, mmap_addr;
} __attribute__((packed));

struct mb_module { u32 mod_start, mod_end, string, reserved; };

struct mb_mmap {
    u32 size;
    u64 addr, len;
    u32 type;
} __attribute__((packed));

/* Interrupt handlers. The KVM/PVM instruction emulator cannot emulate a
 * protected-mode `iret` (nor an outer-privilege `lret`), so handlers return
 * with "pushl 8(%esp); popfl; ret $8" instead (same privilege only).
 * DEFINE_ISR(stub, fn) emits an assembly entry `stub` that saves the
 * caller-saved registers, calls the C function fn(void) and returns. */
#define DEFINE_ISR(stub, fn)                                             \
    void stub(void);                                                     \
    __asm__(".pushsection .text." #stub ",\"ax\",@progbits\n"          \
            #stub ":\n\tpushl %eax\n\tpushl %ecx\n\tpushl %edx\n"        \
            "\tcld\n\tcall " #fn "\n"                                    \
            "\tpopl %edx\n\tpopl %ecx\n\tpopl %eax\n"                   \
            "\tpushl 8(%esp)\n\tpopfl\n\tret $8\n.popsection\n")
#define ISR_FN __attribute__((used))

/* ---- port I/O ---- */
static inline void outb(u16 p, u8 v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(p)); }
static inline void outw(u16 p, u16 v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(p)); }
static inline void outl(u16 p, u32 v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(p)); }
static inline u8 inb(u16 p) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline u16 inw(u16 p) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }

static inline u32 mmio_read(u32 a) { return *(volatile u32 *)a; }
static inline void mmio_write(u32 a, u32 v) { *(volatile u32 *)a = v; }

static inline u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((u64)hi << 32) | lo; }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }

/* ---- libc bits ---- */
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* ---- serial (COM1) ---- */
#define COM1 0x3f8
void pchar(char c);
void pstr(const char *s);          /* no newline added */
void pdec(u32 v);
void phex(u32 v);                  /* no 0x prefix */

/* ---- misc ---- */
void debug_exit(u32 v) __attribute__((noreturn));   /* out v -> 0xf4 */
u64 fwcfg_read(u16 key, int nbytes);
void pic_mask(void);
void delay_tsc(u64 cycles);

/* cmdline helper: finds "key=" at a token start, parses decimal; returns def if absent */
u32 cmdline_uint(const struct mb_info *mbi, const char *key, u32 def);
/* "key=value" at a token start: copies the value (at most n-1 chars) into buf; 1 if found */
int cmdline_str(const struct mb_info *mbi, const char *key, char *buf, u32 n);

/* ---- IDT / LAPIC / IOAPIC ---- */
void idt_set(int vec, void *handler);
void idt_load(void);
#define LAPIC 0xfee00000u
#define LAPIC_ID 0x20
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_ICRLO 0x300
#define LAPIC_ICRHI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV 0x3e0
static inline u32 lapic_read(u32 r) { return mmio_read(LAPIC + r); }
static inline void lapic_write(u32 r, u32 v) { mmio_write(LAPIC + r, v); }
static inline void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }
void lapic_enable(void);           /* SVR: enable, spurious vector 0xff (with handler) */
u32 lapic_id(void);
/* flags: IOAPIC_LEVEL, IOAPIC_LOW */
#define IOAPIC_LOW (1u << 13)
#define IOAPIC_LEVEL (1u << 15)
void ioapic_route(int pin, int vec, u32 flags, u32 dest_apic);

/* ---- ACPI ---- */
struct acpi_hdr {
    char sig[4]; u32 length; u8 rev, checksum; char oem[6], oemtable[8];
    u32 oemrev, creator, creatorrev;
} __attribute__((packed));
const struct acpi_hdr *acpi_find(const char *sig);  /* via RSDP -> XSDT/RSDT */
static inline u32 fadt_u32(const struct acpi_hdr *f, int off) { return *(const u32 *)((const u8 *)f + off); }
static inline u16 fadt_u16(const struct acpi_hdr *f, int off) { return *(const u16 *)((const u8 *)f + off); }
static inline u8 fadt_u8(const struct acpi_hdr *f, int off) { return ((const u8 *)f)[off]; }
const struct acpi_hdr *acpi_dsdt(const struct acpi_hdr *fadt);
int acpi_s5(const struct acpi_hdr *fadt);   /* SLP_TYPa of \_S5_, -1 if not found */
void acpi_poweroff(const struct acpi_hdr *fadt, int s5);

/* ---- GDT (start.S) ---- */
extern u8 gdt[];
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23
#define SEL_TSS   0x28

#endif
