/// What a transaction did.
public struct EtcdTxnResult: Sendable {
    /// Whether every compare held (so the success operations ran, else the failure ones).
    public var succeeded: Bool
    /// The store's revision after the transaction (the revision of its writes, if any).
    public var revision: Int64
    /// The answers of the operations that ran, in order: the keys a `get` found (empty for
    /// a put or delete).
    public var results: [[EtcdKeyValue]]
}
