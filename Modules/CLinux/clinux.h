// CLinux: Linux interfaces that Glibc's Swift module leaves out (<sys/epoll.h>,
// fallocate(2), which glibc declares only under _GNU_SOURCE) or that Swift cannot call
// (prctl(2) and syscall(2) are variadic; clone(2) takes a function to run on a stack of
// the caller's). No policy here: that lives in the daemon's System/ folder and VMMCore's
// FileSpace.
#ifndef CLINUX_H
#define CLINUX_H

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/// Names the calling thread (at most 15 bytes show in /proc and `top -H`).
static inline int clinux_set_thread_name(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
}

// clone(2) is declared for _GNU_SOURCE only.
extern int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);

/// What `clinux_spawn_in_new_pid_namespace` starts: `path` with `argv` and `envp`, standard
/// input on /dev/null, output and errors appended to `log`.
struct clinux_spawn {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *log;
    /// A descriptor the child gets as fd 3 (a jail id's claim), or -1 for none.
    int keep;
    /// Set by the child: the errno of the step that failed; 0 once it reached execve.
    int error;
};

static inline int clinux_spawn_move(int fd, int target) {
    if (fd < 0) return -1;
    if (fd == target) return 0;
    int result = dup2(fd, target);
    close(fd);
    return result < 0 ? -1 : 0;
}

// The child, on its own stack in the parent's memory until execve (as posix_spawn's):
// async-signal-safe calls only, and it writes nothing of the parent's but `error`.
static int clinux_spawn_child(void *argument) {
    struct clinux_spawn *spawn = argument;
    // execve resets handled signals, not ignored ones.
    struct sigaction defaults = { .sa_handler = SIG_DFL };
    for (int signal = 1; signal < 65; signal++) {
        if (signal != SIGKILL && signal != SIGSTOP) sigaction(signal, &defaults, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    // fd 3 first, before the opens below can take it; dup2 clears close-on-exec.
    int kept = spawn->keep < 0 ? 0 : spawn->keep == 3 ? fcntl(3, F_SETFD, 0) : (dup2(spawn->keep, 3) < 0 ? -1 : 0);
    if (kept != 0
        || setsid() < 0
        || clinux_spawn_move(open("/dev/null", O_RDONLY), 0) != 0
        || clinux_spawn_move(open(spawn->log, O_WRONLY | O_CREAT | O_APPEND, 0640), 1) != 0
        || dup2(1, 2) < 0
        || syscall(SYS_close_range, spawn->keep < 0 ? 3 : 4, ~0U, 0) != 0
        || sigprocmask(SIG_SETMASK, &none, NULL) != 0) {
        spawn->error = errno;
        _exit(127);
    }
    execve(spawn->path, spawn->argv, spawn->envp);
    spawn->error = errno;
    _exit(127);
}

/// Starts `spawn` as pid 1 of a new PID namespace (which, unlike the other namespaces, a
/// process cannot enter itself: `unshare` moves its children only), in its own session,
/// every signal at its default and none blocked. Returns the pid and puts a pidfd in
/// `pidfd`; -1 with errno set when it could not start (a child that failed before its
/// execve has been reaped).
static inline int clinux_spawn_in_new_pid_namespace(struct clinux_spawn *spawn, int *pidfd) {
    const size_t size = 64 * 1024;
    void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return -1;
    // No handler of the parent's may run in the child before it reset them.
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    spawn->error = 0;
    // CLONE_VFORK: the parent waits until the child called execve or ended.
    int pid = clone(clinux_spawn_child, (char *)stack + size,
                    CLONE_VM | CLONE_VFORK | CLONE_NEWPID | CLONE_PIDFD | SIGCHLD, spawn, pidfd);
    int error = errno;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    munmap(stack, size);
    if (pid < 0) {
        errno = error;
        return -1;
    }
    if (spawn->error != 0) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        close(*pidfd);
        errno = spawn->error;
        return -1;
    }
    return pid;
}

/// fallocate(2) by its system call: -1 and errno on failure.
static inline int clinux_fallocate(int fd, int mode, long offset, long length) {
    return (int)syscall(SYS_fallocate, fd, mode, offset, length);
}

#endif
