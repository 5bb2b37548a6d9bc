/* kvm-loop: minimal C reference VMM for the vmm benchmarks (same-run baseline for exit cost).
 * Usage: kvm-loop KERNEL.elf [ARGS...]   -> guest cmdline "KERNEL.elf ARGS..."
 * One vCPU, 256 MiB, in-kernel irqchip; boots a Multiboot ELF32 in 32-bit protected mode.
 * COM1 (0x3f8) output -> stdout; out V to 0xf4 -> exit((V<<1)|1); other port I/O ignored
 * (ins read 0xff); MMIO reads return all-ones, writes are ignored. Build: gcc -O2. */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM_SIZE (256ul << 20)
#define GDT_ADDR 0x8000
#define MBI_ADDR 0x9000
#define CMDLINE_ADDR 0x9100

static void die(const char *what) { perror(what); exit(120); }

static int xioctl(int fd, unsigned long req, void *arg)
{
    int r = ioctl(fd, req, arg);
    if (r < 0) die("ioctl");
    return r;
}

static uint32_t load_elf(uint8_t *mem, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) die(path);
    static uint8_t buf[16 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    Elf32_Ehdr *eh = (Elf32_Ehdr *)buf;
    if (n < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS32) {
        fprintf(stderr, "kvm-loop: %s: not an ELF32 file\n", path);
        exit(120);
    }
    for (int i = 0; i < eh->e_phnum; i++) {
        Elf32_Phdr *ph = (Elf32_Phdr *)(buf + eh->e_phoff + i * eh->e_phentsize);
        if (ph->p_type != PT_LOAD) continue;
        if ((uint64_t)ph->p_paddr + ph->p_memsz > MEM_SIZE || ph->p_offset + ph->p_filesz > n) {
            fprintf(stderr, "kvm-loop: segment %d out of range\n", i);
            exit(120);
        }
        memcpy(mem + ph->p_paddr, buf + ph->p_offset, ph->p_filesz);
        memset(mem + ph->p_paddr + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
    }
    return eh->e_entry;
}

static struct kvm_segment seg(uint16_t sel, uint8_t type)
{
    struct kvm_segment s = { .base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
                             .present = 1, .db = 1, .s = 1, .g = 1 };
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: kvm-loop KERNEL.elf [cmdline args...]\n"); return 2; }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("/dev/kvm");
    int vm = xioctl(kvm, KVM_CREATE_VM, 0);
    ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000ul); /* VT-x only; harmless elsewhere */
    xioctl(vm, KVM_CREATE_IRQCHIP, NULL);

    int memfd = memfd_create("kvm-loop-guest-ram", MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, MEM_SIZE) < 0) die("memfd");
    uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (mem == MAP_FAILED) die("mmap");
    struct kvm_userspace_memory_region region = { .slot = 0, .guest_phys_addr = 0,
                                                  .memory_size = MEM_SIZE, .userspace_addr = (uintptr_t)mem };
    xioctl(vm, KVM_SET_USER_MEMORY_REGION, &region);

    uint32_t entry = load_elf(mem, argv[1]);
    /* Flat GDT: null, 32-bit code (0x08), data (0x10), TSS (0x18) for the entry checks. */
    uint64_t gdt[] = { 0, 0x00cf9b000000ffffull, 0x00cf93000000ffffull, 0x00808b0000000067ull };
    memcpy(mem + GDT_ADDR, gdt, sizeof gdt);
    /* Multiboot info: mem_lower/upper + cmdline "KERNEL args...". */
    char *cmd = (char *)mem + CMDLINE_ADDR;
    size_t off = 0;
    for (int i = 1; i < argc && off < 3000; i++)
        off += snprintf(cmd + off, 3000 - off, i > 1 ? " %s" : "%s", argv[i]);
    uint32_t mbi[22] = { 0 };
    mbi[0] = 1 | 4;                          /* flags: mem_*, cmdline */
    mbi[1] = 640;
    mbi[2] = (MEM_SIZE >> 10) - 1024;
    mbi[4] = CMDLINE_ADDR;
    memcpy(mem + MBI_ADDR, mbi, sizeof mbi);

    int vcpu = xioctl(vm, KVM_CREATE_VCPU, 0);
    struct { struct kvm_cpuid2 h; struct kvm_cpuid_entry2 e[256]; } cpuid = { .h.nent = 256 };
    xioctl(kvm, KVM_GET_SUPPORTED_CPUID, &cpuid);
    xioctl(vcpu, KVM_SET_CPUID2, &cpuid);
    int run_size = xioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) die("mmap kvm_run");

    struct kvm_sregs sregs;
    xioctl(vcpu, KVM_GET_SREGS, &sregs);
    sregs.cs = seg(0x08, 0xb);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg(0x10, 0x3);
    sregs.tr = seg(0x18, 0xb);
    sregs.tr.s = 0, sregs.tr.limit = 0x67, sregs.tr.g = 0, sregs.tr.db = 0;
    sregs.gdt.base = GDT_ADDR, sregs.gdt.limit = sizeof gdt - 1;
    sregs.idt.base = 0, sregs.idt.limit = 0;
    sregs.cr0 = 0x11, sregs.cr3 = 0, sregs.cr4 = 0, sregs.efer = 0;
    xioctl(vcpu, KVM_SET_SREGS, &sregs);
    struct kvm_regs regs = { .rip = entry, .rax = 0x2BADB002, .rbx = MBI_ADDR, .rflags = 2 };
    xioctl(vcpu, KVM_SET_REGS, &regs);

    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
        switch (run->exit_reason) {
        case KVM_EXIT_IO: {
            uint8_t *data = (uint8_t *)run + run->io.data_offset;
            if (run->io.direction == KVM_EXIT_IO_IN) {
                memset(data, 0xff, (size_t)run->io.size * run->io.count);
            } else if (run->io.port == 0x3f8) {
                for (uint32_t i = 0; i < run->io.count; i++) putchar(data[i * run->io.size]);
            } else if (run->io.port == 0xf4) {
                fflush(stdout);
                exit((data[0] << 1) | 1);
            }
            break;
        }
        case KVM_EXIT_MMIO:
            if (!run->mmio.is_write) memset(run->mmio.data, 0xff, sizeof run->mmio.data);
            break;
        default:
            fflush(stdout);
            fprintf(stderr, "kvm-loop: unexpected exit reason %u (internal suberror %u)\n",
                    run->exit_reason, run->internal.suberror);
            return 121;
        }
    }
}
