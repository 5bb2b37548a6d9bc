// CSeccomp: the parts of seccomp(2), prctl(2) and <linux/filter.h> that Swift cannot
// import by itself: syscall(2) and prctl(2) are variadic, AUDIT_ARCH_X86_64 is a macro
// expression, and siginfo_t keeps the SIGSYS fields in a union. No policy lives here.
#ifndef CSECCOMP_H
#define CSECCOMP_H

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/ucontext.h>
#include <unistd.h>

static inline unsigned int cseccomp_audit_arch_x86_64(void) { return AUDIT_ARCH_X86_64; }

static inline int cseccomp_set_no_new_privileges(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }

// Filters the calling thread only (no SECCOMP_FILTER_FLAG_TSYNC): each thread kind has its own.
static inline int cseccomp_install_filter(const struct sock_fprog *program) {
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, program);
}

// glibc's malloc reads /sys/devices/system/cpu/online, the first time a thread needs a
// new arena after several exist, to set the arena limit (8 per CPU): a filtered thread
// cannot open files. Setting the same limit beforehand spares the read.
static inline int cseccomp_preset_malloc_arena_limit(void) { return mallopt(M_ARENA_MAX, 8 * get_nprocs()); }

// At most 15 bytes are kept; longer names are cut.
static inline int cseccomp_set_thread_name(const char *name) { return prctl(PR_SET_NAME, name, 0, 0, 0); }

// Makes system call `number` with zero arguments (the SIGSYS handler repeats the forbidden call).
static inline long cseccomp_repeat_call(long number) { return syscall(number, 0, 0, 0, 0, 0, 0); }

// The SIGSYS fields of a seccomp trap: the call's number and the filter's SECCOMP_RET_DATA.
static inline int cseccomp_sigsys_call(const siginfo_t *info) { return info->si_syscall; }
static inline int cseccomp_sigsys_data(const siginfo_t *info) { return info->si_errno; }

// Argument `index` (0-5) of the trapped call, from the signal's saved registers.
static inline long cseccomp_context_argument(const void *context, int index) {
    // REG_RDI, REG_RSI, REG_RDX, REG_R10, REG_R8, REG_R9 (named only under _GNU_SOURCE).
    static const int registers[] = {8, 9, 12, 2, 0, 1};
    return (long)((const ucontext_t *)context)->uc_mcontext.gregs[registers[index]];
}

// Offsets into struct seccomp_data, which a filter loads from.
static inline unsigned int cseccomp_data_nr_offset(void) { return offsetof(struct seccomp_data, nr); }
static inline unsigned int cseccomp_data_arch_offset(void) { return offsetof(struct seccomp_data, arch); }
static inline unsigned int cseccomp_data_args_offset(void) { return offsetof(struct seccomp_data, args); }

#endif
