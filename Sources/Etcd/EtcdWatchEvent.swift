/// One change a watch saw.
public struct EtcdWatchEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case put
        /// A delete, by a client or by the expiry of the lease the key was bound to.
        case delete
    }

    public var kind: Kind
    /// The key after the change (for a delete: the key, and the revision of the delete as
    /// `modRevision`; no value).
    public var keyValue: EtcdKeyValue
    /// The key before the change, if the watch asked for it and there was one.
    public var previous: EtcdKeyValue?
}
