/// The body of `POST /v1/vms`: a definition, and in a cluster the host to define it on.
///
/// On the wire it is the definition's object with one more field, `host`.
public struct VMCreateRequest: Codable, Equatable, Sendable {
    public var definition: VMDefinition
    /// The cluster host to define the VM on; nil: the host with the most free capacity.
    public var host: String?

    public init(_ definition: VMDefinition, host: String? = nil) {
        self.definition = definition
        self.host = host
    }

    private enum Field: String, CodingKey { case host }

    public init(from decoder: any Decoder) throws {
        definition = try VMDefinition(from: decoder)
        host = try decoder.container(keyedBy: Field.self).decodeIfPresent(String.self, forKey: .host)
    }

    public func encode(to encoder: any Encoder) throws {
        try definition.encode(to: encoder)
        var container = encoder.container(keyedBy: Field.self)
        try container.encodeIfPresent(host, forKey: .host)
    }
}
