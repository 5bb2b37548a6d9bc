#if canImport(Glibc)
import Glibc
#endif

/// A failed KVM operation: which call failed and the `errno` it returned.
///
/// The description is one sentence a user can act on, e.g.
/// `KVM_CREATE_VCPU failed: Invalid argument (errno 22)`.
public struct KVMError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The ioctl or system call that failed, by its KVM name (`KVM_RUN`, `open /dev/kvm`).
    public let operation: String
    /// The raw `errno` value.
    public let code: Int32
    /// An explanation that replaces the generic one when the cause is known.
    public let explanation: String?

    public init(operation: String, code: Int32, explanation: String? = nil) {
        self.operation = operation
        self.code = code
        self.explanation = explanation
    }

    public var description: String {
        if let explanation { return explanation }
        return "\(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
    }
}
