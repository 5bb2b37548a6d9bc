#if canImport(Glibc)
import Glibc
#endif

/// The signal that interrupts `KVM_RUN` on a vCPU thread.
///
/// Its handler does nothing: the point is the EINTR. Installed without SA_RESTART so the
/// ioctl returns instead of resuming the guest.
enum VCPUSignal {
    static let number = SIGUSR1

    private static let installed: Bool = {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        return sigaction(number, &action, nil) == 0
    }()

    static func install() { _ = installed }
}
