import Foundation

/// One key as etcd keeps it: its value and the revisions that versioned it.
public struct EtcdKeyValue: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]
    /// The revision of the put that created the key (since its last deletion).
    public var createRevision: Int64
    /// The revision of the last put to it; what `EtcdCompare.modRevision` compares.
    public var modRevision: Int64
    /// The number of puts since it was created.
    public var version: Int64
    /// The lease the key is bound to, 0 for none.
    public var lease: Int64

    public init(key: String, value: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, lease: Int64) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }

    /// The value as UTF-8 text.
    public var text: String { String(decoding: value, as: UTF8.self) }

    /// The value decoded from JSON.
    public func decode<Value: Decodable>(_ type: Value.Type = Value.self) throws -> Value {
        do {
            return try JSONDecoder().decode(type, from: Data(value))
        } catch {
            throw EtcdError.malformedValue(key: key, "not a \(Value.self): \(error)")
        }
    }
}
