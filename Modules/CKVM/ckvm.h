// CKVM: the parts of <linux/kvm.h> that Swift cannot import by itself.
//
// ioctl(2) is variadic and the _IO* request macros are function-like, so neither
// imports into Swift. This header gives fixed-arity ioctl wrappers and one inline
// function per request code. It holds no policy: that lives in the KVM module.
#ifndef CKVM_H
#define CKVM_H

#include <linux/kvm.h>
#include <linux/memfd.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static inline int ckvm_ioctl(int fd, unsigned long request) {
    return ioctl(fd, request, 0);
}

static inline int ckvm_ioctl_value(int fd, unsigned long request, unsigned long value) {
    return ioctl(fd, request, value);
}

static inline int ckvm_ioctl_pointer(int fd, unsigned long request, void *argument) {
    return ioctl(fd, request, argument);
}

// memfd_create(2) is hidden behind _GNU_SOURCE in glibc's headers; guest RAM needs it.
static inline int ckvm_memfd_create(const char *name, unsigned int flags) {
    return (int)syscall(SYS_memfd_create, name, flags);
}

// POSIX timers by their kernel IDs: glibc's timer_t is that ID cast to a pointer, and the
// first ID is 0, a null pointer that Swift's non-optional timer_t cannot hold. vmm's fence.
/// A timer on CLOCK_BOOTTIME that sends `signal` to the process when it expires.
static inline int ckvm_boottime_timer_create(int signal, int *id) {
    struct sigevent event = {0};
    event.sigev_notify = SIGEV_SIGNAL;
    event.sigev_signo = signal;
    return (int)syscall(SYS_timer_create, CLOCK_BOOTTIME, &event, id);
}

/// Arms timer `id` for `nanoseconds` of its clock (absolute); 0 disarms it.
static inline int ckvm_timer_set_absolute(int id, long long nanoseconds) {
    struct itimerspec setting = {0};
    setting.it_value.tv_sec = nanoseconds / 1000000000LL;
    setting.it_value.tv_nsec = nanoseconds % 1000000000LL;
    return (int)syscall(SYS_timer_settime, id, TIMER_ABSTIME, &setting, (void *)0);
}

#define CKVM_REQUEST(name, macro) \
    static inline unsigned long ckvm_##name(void) { return (unsigned long)(macro); }

// /dev/kvm
CKVM_REQUEST(get_api_version, KVM_GET_API_VERSION)
CKVM_REQUEST(create_vm, KVM_CREATE_VM)
CKVM_REQUEST(check_extension, KVM_CHECK_EXTENSION)
CKVM_REQUEST(get_vcpu_mmap_size, KVM_GET_VCPU_MMAP_SIZE)
CKVM_REQUEST(get_supported_cpuid, KVM_GET_SUPPORTED_CPUID)
CKVM_REQUEST(get_msr_index_list, KVM_GET_MSR_INDEX_LIST)

// VM
CKVM_REQUEST(create_vcpu, KVM_CREATE_VCPU)
CKVM_REQUEST(set_user_memory_region, KVM_SET_USER_MEMORY_REGION)
CKVM_REQUEST(set_tss_addr, KVM_SET_TSS_ADDR)
CKVM_REQUEST(set_identity_map_addr, KVM_SET_IDENTITY_MAP_ADDR)
CKVM_REQUEST(create_irqchip, KVM_CREATE_IRQCHIP)
CKVM_REQUEST(create_pit2, KVM_CREATE_PIT2)
CKVM_REQUEST(irq_line, KVM_IRQ_LINE)
CKVM_REQUEST(set_gsi_routing, KVM_SET_GSI_ROUTING)
CKVM_REQUEST(irqfd, KVM_IRQFD)
CKVM_REQUEST(ioeventfd, KVM_IOEVENTFD)
CKVM_REQUEST(get_dirty_log, KVM_GET_DIRTY_LOG)
CKVM_REQUEST(get_irqchip, KVM_GET_IRQCHIP)
CKVM_REQUEST(set_irqchip, KVM_SET_IRQCHIP)
CKVM_REQUEST(get_pit2, KVM_GET_PIT2)
CKVM_REQUEST(set_pit2, KVM_SET_PIT2)
CKVM_REQUEST(get_clock, KVM_GET_CLOCK)
CKVM_REQUEST(set_clock, KVM_SET_CLOCK)

// vCPU
CKVM_REQUEST(run, KVM_RUN)
CKVM_REQUEST(get_regs, KVM_GET_REGS)
CKVM_REQUEST(set_regs, KVM_SET_REGS)
CKVM_REQUEST(get_sregs, KVM_GET_SREGS)
CKVM_REQUEST(set_sregs, KVM_SET_SREGS)
CKVM_REQUEST(set_fpu, KVM_SET_FPU)
CKVM_REQUEST(set_cpuid2, KVM_SET_CPUID2)
CKVM_REQUEST(set_msrs, KVM_SET_MSRS)
CKVM_REQUEST(get_lapic, KVM_GET_LAPIC)
CKVM_REQUEST(set_lapic, KVM_SET_LAPIC)
CKVM_REQUEST(get_mp_state, KVM_GET_MP_STATE)
CKVM_REQUEST(set_mp_state, KVM_SET_MP_STATE)
CKVM_REQUEST(get_vcpu_events, KVM_GET_VCPU_EVENTS)
CKVM_REQUEST(set_vcpu_events, KVM_SET_VCPU_EVENTS)
CKVM_REQUEST(get_fpu, KVM_GET_FPU)
CKVM_REQUEST(get_xsave, KVM_GET_XSAVE)
CKVM_REQUEST(set_xsave, KVM_SET_XSAVE)
CKVM_REQUEST(get_xcrs, KVM_GET_XCRS)
CKVM_REQUEST(set_xcrs, KVM_SET_XCRS)
CKVM_REQUEST(get_debugregs, KVM_GET_DEBUGREGS)
CKVM_REQUEST(set_debugregs, KVM_SET_DEBUGREGS)
CKVM_REQUEST(get_msrs, KVM_GET_MSRS)
CKVM_REQUEST(get_tsc_khz, KVM_GET_TSC_KHZ)
CKVM_REQUEST(set_tsc_khz, KVM_SET_TSC_KHZ)
CKVM_REQUEST(get_stats_fd, KVM_GET_STATS_FD)

#undef CKVM_REQUEST

// kvm_run's exit data sits in an anonymous union, which Swift's MemoryLayout cannot see into.
static inline unsigned long ckvm_run_mmio_data_offset(void) { return __builtin_offsetof(struct kvm_run, mmio.data); }

// kvm_dirty_log keeps its bitmap pointer in an anonymous union, which Swift imports awkwardly.
static inline void ckvm_dirty_log_set_bitmap(struct kvm_dirty_log *log, void *bitmap) { log->dirty_bitmap = bitmap; }

// The ioeventfd flags are shifts of enum constants, which Swift does not import as macros.
static inline unsigned int ckvm_ioeventfd_flag_datamatch(void) { return KVM_IOEVENTFD_FLAG_DATAMATCH; }
static inline unsigned int ckvm_ioeventfd_flag_deassign(void) { return KVM_IOEVENTFD_FLAG_DEASSIGN; }

#endif
