/// The keys a read found and the store's revision it read at: a watch from
/// `revision + 1` sees every change after the read.
public struct EtcdRange: Sendable {
    public var keyValues: [EtcdKeyValue]
    public var revision: Int64
}
