// CJail: the system calls vmm's jail makes that Swift cannot import by itself: pivot_root,
// capset, capget and pidfd_open have no glibc wrapper (syscall(2) is variadic), prctl(2) is
// variadic, unshare and setres[ug]id are declared for _GNU_SOURCE only, and the capability
// structs' version and some rlimit numbers are macros. No policy lives here.
#ifndef CJAIL_H
#define CJAIL_H

#include <linux/capability.h>
#include <linux/sched.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

// The mount, IPC and UTS namespaces, and the PID namespace (of children) if `pid`.
static inline int cjail_unshare_namespaces(int pid) {
    return (int)syscall(SYS_unshare, CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | (pid ? CLONE_NEWPID : 0));
}

// The raw calls change the calling thread only (glibc's wrappers change every thread):
// vmm is single-threaded when it enters its jail.
static inline int cjail_set_user(unsigned int user) { return (int)syscall(SYS_setresuid, user, user, user); }
static inline int cjail_set_group(unsigned int group) { return (int)syscall(SYS_setresgid, group, group, group); }

static inline int cjail_rlimit_open_files(void) { return RLIMIT_NOFILE; }
static inline int cjail_rlimit_locked_memory(void) { return RLIMIT_MEMLOCK; }
static inline int cjail_rlimit_processes(void) { return RLIMIT_NPROC; }
static inline int cjail_rlimit_core(void) { return RLIMIT_CORE; }

static inline int cjail_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

// Empties the effective, permitted and inheritable sets of the calling thread.
static inline int cjail_clear_capabilities(void) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {{0, 0, 0}};
    return (int)syscall(SYS_capset, &header, data);
}

// 1 when the calling thread holds any effective, permitted or inheritable capability, 0
// when none, -1 when capget fails (capget needs no privilege).
static inline int cjail_has_capabilities(void) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
        if (data[i].effective | data[i].permitted | data[i].inheritable) return 1;
    }
    return 0;
}

static inline int cjail_drop_bounding_capability(int capability) {
    return prctl(PR_CAPBSET_DROP, capability, 0, 0, 0);
}

static inline int cjail_clear_ambient_capabilities(void) {
    return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

static inline int cjail_set_no_new_privileges(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }

static inline int cjail_set_parent_death_signal(int signal) { return prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0); }

static inline int cjail_pidfd_open(int pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

static inline int cjail_close_from(unsigned int first) { return (int)syscall(SYS_close_range, first, ~0U, 0); }

#endif
