/// One condition of a transaction: a key's version, revisions, value or lease compared
/// with what the caller read.
public struct EtcdCompare: Sendable {
    public enum Target: Sendable {
        case version(Int64)
        case createRevision(Int64)
        case modRevision(Int64)
        case value([UInt8])
        case lease(Int64)
    }

    public enum Relation: String, Sendable {
        case equal = "EQUAL"
        case notEqual = "NOT_EQUAL"
        case greater = "GREATER"
        case less = "LESS"
    }

    public var key: String
    public var relation: Relation
    public var target: Target

    public init(_ key: String, _ target: Target, _ relation: Relation = .equal) {
        self.key = key
        self.relation = relation
        self.target = target
    }

    /// The key does not exist (its create revision is 0).
    public static func absent(_ key: String) -> EtcdCompare { EtcdCompare(key, .createRevision(0)) }

    /// The key was last written at `revision`: nobody changed it since it was read.
    public static func unchanged(_ key: String, since revision: Int64) -> EtcdCompare {
        EtcdCompare(key, .modRevision(revision))
    }

    var wire: EtcdWire.Compare {
        var compare = EtcdWire.Compare(key: EtcdWire.base64(key), target: "", result: relation.rawValue)
        switch target {
        case .version(let version):
            compare.target = "VERSION"
            compare.version = .init(version)
        case .createRevision(let revision):
            compare.target = "CREATE"
            compare.create_revision = .init(revision)
        case .modRevision(let revision):
            compare.target = "MOD"
            compare.mod_revision = .init(revision)
        case .value(let value):
            compare.target = "VALUE"
            compare.value = EtcdWire.base64(value)
        case .lease(let lease):
            compare.target = "LEASE"
            compare.lease = .init(lease)
        }
        return compare
    }
}
