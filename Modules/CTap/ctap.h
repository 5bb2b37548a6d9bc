// CTap: the parts of <linux/if_tun.h> and glibc that Swift cannot import by itself.
//
// ioctl(2) is variadic and the TUN request codes are function-like _IOW/_IOR macros;
// getrandom(2) lives in <sys/random.h>, which Glibc's Swift module leaves out. No policy
// here: that lives in TapDevice and the virtio devices.
#ifndef CTAP_H
#define CTAP_H

#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/random.h>

static inline int ctap_ioctl_value(int fd, unsigned long request, unsigned long value) {
    return ioctl(fd, request, value);
}

static inline int ctap_ioctl_pointer(int fd, unsigned long request, void *argument) {
    return ioctl(fd, request, argument);
}

static inline unsigned long ctap_tunsetiff(void) { return TUNSETIFF; }
static inline unsigned long ctap_tungetiff(void) { return TUNGETIFF; }
static inline unsigned long ctap_tunsetoffload(void) { return TUNSETOFFLOAD; }
static inline unsigned long ctap_tunsetvnethdrsz(void) { return TUNSETVNETHDRSZ; }

#endif
