/// Proof of having won an election: the campaign key, which lives as long as its lease.
public struct EtcdLeadership: Sendable, Equatable {
    /// The election's name.
    public var name: String
    /// The campaign key (`NAME/LEASE_HEX`).
    public var key: String
    /// Its create revision: compare it in a transaction (`.createRevision`) so that a write
    /// happens only while this leadership lasts.
    public var revision: Int64
    /// The lease the key is bound to.
    public var lease: Int64

    init(_ wire: EtcdWire.LeaderKey) throws {
        name = String(decoding: try EtcdWire.bytes(base64: wire.name), as: UTF8.self)
        key = String(decoding: try EtcdWire.bytes(base64: wire.key), as: UTF8.self)
        revision = wire.rev?.value ?? 0
        lease = wire.lease?.value ?? 0
    }

    var wire: EtcdWire.LeaderKey {
        EtcdWire.LeaderKey(name: EtcdWire.base64(name), key: EtcdWire.base64(key), rev: .init(revision), lease: .init(lease))
    }
}
