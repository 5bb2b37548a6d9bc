#if canImport(Glibc)
import Glibc
#endif
import CTap
import DeviceOptions

/// A Linux tap interface carrying a 12-byte virtio-net header in front of every frame,
/// opened non-blocking for a device worker's poll loop.
///
/// With a name, an existing persistent tap is attached to (it stays when vmm closes it)
/// and a missing one is created (it disappears when vmm closes it); without a name the
/// kernel creates `tapN`. Every failure is explained as a configuration problem, because
/// each has a fix on the user's side (a name, a capability, a kernel module).
public final class TapDevice: Sendable {
    /// The interface name, as the kernel reports it (the chosen one when none was given).
    public let name: String
    public let fileDescriptor: Int32
    /// Whether the tap outlives vmm: it existed already, made persistent by `ip tuntap add`.
    public let isPersistent: Bool

    /// The size of `struct virtio_net_hdr_mrg_rxbuf`, which virtio 1.x always uses.
    public static let headerSize = 12

    public init(name requestedName: String?) throws(VMMError) {
        if let requestedName {
            do {
                try NetworkOption.checkTapName(requestedName, field: "tap")
            } catch {
                throw .invalidConfiguration(error.message)
            }
        }
        let fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw Self.openError(errno) }
        var request = ifreq()
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { name in
            name.copyBytes(from: (requestedName ?? "").utf8.prefix(name.count - 1))
        }
        request.ifr_ifru.ifru_flags = Int16(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
        guard ctap_ioctl_pointer(fd, ctap_tunsetiff(), &request) == 0 else {
            let code = errno
            close(fd)
            throw Self.attachError(code, name: requestedName)
        }
        let name = withUnsafeBytes(of: &request.ifr_ifrn.ifrn_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        var headerSize = Int32(Self.headerSize)
        // TUNGETIFF fills a whole struct ifreq, whatever its _IOR code says.
        guard ctap_ioctl_pointer(fd, ctap_tunsetvnethdrsz(), &headerSize) == 0,
            ctap_ioctl_pointer(fd, ctap_tungetiff(), &request) == 0
        else {
            let code = errno
            close(fd)
            throw .system("configuring tap \(name)", code)
        }
        self.name = name
        fileDescriptor = fd
        isPersistent = Int32(UInt16(bitPattern: request.ifr_ifru.ifru_flags)) & IFF_PERSIST != 0
    }

    deinit { close(fileDescriptor) }

    /// Tells the kernel which offloads the reader of this tap handles, i.e. what kind of
    /// frames (partial checksums, large segments) it may hand us.
    public func setOffloads(_ offloads: TapOffloads) throws(VMMError) {
        guard ctap_ioctl_value(fileDescriptor, ctap_tunsetoffload(), UInt(offloads.rawValue)) == 0 else {
            throw .system("TUNSETOFFLOAD 0x\(String(offloads.rawValue, radix: 16)) on tap \(name)", errno)
        }
    }

    private static func openError(_ code: Int32) -> VMMError {
        switch code {
        case ENOENT, ENODEV, ENXIO:
            return .invalidConfiguration("/dev/net/tun is missing: load the tun module (modprobe tun)")
        case EACCES, EPERM:
            return .invalidConfiguration(
                "cannot open /dev/net/tun: permission denied; a tap needs root or CAP_NET_ADMIN")
        default:
            return .system("open /dev/net/tun", code)
        }
    }

    private static func attachError(_ code: Int32, name: String?) -> VMMError {
        let tap = name.map { "tap \($0)" } ?? "a new tap"
        switch code {
        case EPERM:
            return .invalidConfiguration(
                "creating or attaching \(tap) needs CAP_NET_ADMIN (run as root or grant the capability), "
                    + "or a persistent tap made for this user (ip tuntap add NAME mode tap user USER)")
        case EBUSY:
            return .invalidConfiguration("\(tap) is busy: another process has it open")
        case EINVAL where name != nil:
            return .invalidConfiguration(
                "\(tap) cannot be used: an interface of that name exists and is not a tap (or is a multi-queue one)")
        default:
            return .system("TUNSETIFF for \(tap)", code)
        }
    }
}
