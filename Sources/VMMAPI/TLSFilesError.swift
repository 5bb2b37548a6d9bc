/// A TLS certificate, key or CA file that cannot be used, and what to do about it.
public struct TLSFilesError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file at fault.
    public let path: String
    /// What is wrong with it, e.g. "cannot be read: No such file or directory".
    public let problem: String

    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String {
        "TLS file \(path) \(problem) (scripts/make-certificates.sh DIR NAME makes DIR/ca.crt, DIR/NAME.crt and DIR/NAME.key)"
    }
}
