/// A filter the kernel refused to install.
public struct SeccompError: Error, CustomStringConvertible, Sendable {
    /// What was being installed, e.g. "the vcpu thread's filter".
    public let what: String
    public let code: Int32

    public var description: String {
        "cannot install \(what) (errno \(code)); the kernel needs seccomp filters (CONFIG_SECCOMP_FILTER), "
            + "or run vmm with --seccomp=off"
    }
}
