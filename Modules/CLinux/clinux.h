// CLinux: Linux interfaces that Glibc's Swift module leaves out (<sys/epoll.h>) or that
// Swift cannot call (prctl(2) is variadic). No policy here: that lives in the daemon's
// System/ folder.
#ifndef CLINUX_H
#define CLINUX_H

#include <sys/epoll.h>
#include <sys/prctl.h>

/// Names the calling thread (at most 15 bytes show in /proc and `top -H`).
static inline int clinux_set_thread_name(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
}

#endif
