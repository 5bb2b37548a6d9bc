#if canImport(Glibc)
import Glibc
#endif
import KVM

/// Why a virtual machine could not be built or run.
public enum VMMError: Error, CustomStringConvertible, Sendable {
    /// The user's configuration cannot work; the message says how to fix it.
    case invalidConfiguration(String)
    /// The kernel or initrd file is unusable.
    case invalidImage(path: String, reason: String)
    case outOfGuestMemory(UInt64, Int)
    /// A snapshot cannot be restored (missing, damaged, or from an unknown format).
    case invalidSnapshot(String)
    case system(String, Int32)
    case kvm(KVMError)

    public var description: String {
        switch self {
        case .invalidConfiguration(let message):
            return message
        case .invalidImage(let path, let reason):
            return "\(path): \(reason)"
        case .invalidSnapshot(let reason):
            return reason
        case .outOfGuestMemory(let address, let count):
            return "\(count) bytes at guest address 0x\(String(address, radix: 16)) "
                + "are outside guest RAM: give the VM more memory (--memory)"
        case .system(let operation, let code):
            return "\(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .kvm(let error):
            return error.description
        }
    }

    /// Whether the cause is the user's input (status 2) rather than the host.
    public var isUserError: Bool {
        switch self {
        case .invalidConfiguration, .invalidImage, .outOfGuestMemory, .invalidSnapshot: return true
        case .system, .kvm: return false
        }
    }
}

extension VMMError {
    /// Runs KVM calls inside code that reports `VMMError`.
    static func kvm<T>(_ body: () throws(KVMError) -> T) throws(VMMError) -> T {
        do throws(KVMError) {
            return try body()
        } catch {
            throw .kvm(error)
        }
    }
}
