/// A token-bucket rate limit in a definition, on a disk (`rateLimit`) or one direction of a
/// NIC (`receiveLimit`, `transmitLimit`): `{"bytesPerSecond": 10485760, "opsPerSecond": 500}`.
///
/// Ops are requests for a disk and frames for a NIC. Each rate may have a burst (the
/// bucket's size, by default a tenth of a second's worth); a rate left out is not limited.
public struct VMRateLimit: Codable, Equatable, Sendable {
    public var bytesPerSecond: UInt64?
    public var bytesBurst: UInt64?
    public var opsPerSecond: UInt64?
    public var opsBurst: UInt64?

    public init(bytesPerSecond: UInt64? = nil, bytesBurst: UInt64? = nil, opsPerSecond: UInt64? = nil, opsBurst: UInt64? = nil) {
        self.bytesPerSecond = bytesPerSecond
        self.bytesBurst = bytesBurst
        self.opsPerSecond = opsPerSecond
        self.opsBurst = opsBurst
    }

    private enum Field: String, CodingKey, CaseIterable {
        case bytesPerSecond, bytesBurst, opsPerSecond, opsBurst
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Refuses keys it does not know: a misspelt rate must not leave a device unlimited.
    public init(from decoder: any Decoder) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = all.allKeys.first(where: { Field(rawValue: $0.stringValue) == nil }) {
            throw DecodingError.dataCorruptedError(
                forKey: unknown, in: all,
                debugDescription: "unknown rate limit field '\(unknown.stringValue)'; the fields are "
                    + Field.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let container = try decoder.container(keyedBy: Field.self)
        self.init(
            bytesPerSecond: try container.decodeIfPresent(UInt64.self, forKey: .bytesPerSecond),
            bytesBurst: try container.decodeIfPresent(UInt64.self, forKey: .bytesBurst),
            opsPerSecond: try container.decodeIfPresent(UInt64.self, forKey: .opsPerSecond),
            opsBurst: try container.decodeIfPresent(UInt64.self, forKey: .opsBurst))
    }
}
