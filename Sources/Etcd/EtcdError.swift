/// Why an etcd call failed.
public enum EtcdError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No member answered (each one's reason in `reasons`, in the order tried); a write
    /// that timed out is reported so too, and may or may not have been applied.
    case unavailable(reasons: [String])
    /// etcd refused the call: its gRPC status code and message (5 is "not found", such as
    /// a lease that has expired; 11 a revision not yet written; 9 a compare gone wrong).
    case refused(code: Int, message: String)
    /// A watch's start revision has been compacted away: read again and watch from the
    /// revision of that read.
    case compacted(revision: Int64)
    /// etcd answered something that is not its JSON gateway's shape.
    case malformedResponse(String)
    /// A value under `key` is not what the reader expects.
    case malformedValue(key: String, String)

    public var description: String {
        switch self {
        case .unavailable(let reasons):
            return "no etcd member answered (\(reasons.joined(separator: "; ")))"
        case .refused(let code, let message):
            return "etcd refused the request: \(message) (gRPC code \(code))"
        case .compacted(let revision):
            return "etcd has compacted the history up to revision \(revision)"
        case .malformedResponse(let what):
            return "malformed answer from etcd: \(what)"
        case .malformedValue(let key, let what):
            return "the value of etcd key \(key) is \(what)"
        }
    }
}
