import Foundation

/// The JSON shapes of etcd 3.4's gRPC gateway (`/v3/...`), as protobuf's JSON mapping
/// writes them: bytes in base64, int64 as decimal strings, zero values and `false` left
/// out (so every field is optional when decoding). Only what this client sends and reads.
enum EtcdWire {
    /// An int64 field: written as a string, read from a string or a number.
    struct Int64Text: Codable, Sendable {
        var value: Int64

        init(_ value: Int64) { self.value = value }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self), let value = Int64(text) {
                self.value = value
            } else {
                value = try container.decode(Int64.self)
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(String(value))
        }
    }

    static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
    static func base64(_ text: String) -> String { base64(Array(text.utf8)) }

    static func bytes(base64 text: String?) throws -> [UInt8] {
        guard let text else { return [] }
        guard let data = Data(base64Encoded: text) else { throw EtcdError.malformedResponse("'\(text)' is not base64") }
        return Array(data)
    }

    struct Header: Decodable { var revision: Int64Text? }

    struct KeyValue: Decodable {
        var key: String?
        var value: String?
        var create_revision: Int64Text?
        var mod_revision: Int64Text?
        var version: Int64Text?
        var lease: Int64Text?

        func decoded() throws -> EtcdKeyValue {
            EtcdKeyValue(
                key: String(decoding: try bytes(base64: key), as: UTF8.self), value: try bytes(base64: value),
                createRevision: create_revision?.value ?? 0, modRevision: mod_revision?.value ?? 0,
                version: version?.value ?? 0, lease: lease?.value ?? 0)
        }
    }

    struct RangeRequest: Encodable {
        var key: String
        var range_end: String?
        var revision: Int64Text?
    }

    struct RangeResponse: Decodable {
        var header: Header?
        var kvs: [KeyValue]?
    }

    struct PutRequest: Encodable {
        var key: String
        var value: String
        var lease: Int64Text?
    }

    struct PutResponse: Decodable { var header: Header? }

    struct DeleteRangeRequest: Encodable {
        var key: String
        var range_end: String?
    }

    struct DeleteRangeResponse: Decodable {
        var header: Header?
        var deleted: Int64Text?
    }

    struct Compare: Encodable {
        var key: String
        var range_end: String?
        var target: String
        var result: String
        var version: Int64Text?
        var create_revision: Int64Text?
        var mod_revision: Int64Text?
        var value: String?
        var lease: Int64Text?
    }

    struct RequestOp: Encodable {
        var request_range: RangeRequest?
        var request_put: PutRequest?
        var request_delete_range: DeleteRangeRequest?
    }

    struct ResponseOp: Decodable {
        var response_range: RangeResponse?
        var response_put: PutResponse?
        var response_delete_range: DeleteRangeResponse?
    }

    struct TxnRequest: Encodable {
        var compare: [Compare]
        var success: [RequestOp]
        var failure: [RequestOp]
    }

    struct TxnResponse: Decodable {
        var header: Header?
        var succeeded: Bool?
        var responses: [ResponseOp]?
    }

    struct LeaseGrantRequest: Encodable { var TTL: Int64Text }

    struct LeaseGrantResponse: Decodable {
        var ID: Int64Text?
        var TTL: Int64Text?
        var error: String?
    }

    struct LeaseID: Encodable { var ID: Int64Text }

    /// `/v3/lease/keepalive` is a stream in gRPC; the gateway answers one message.
    struct LeaseKeepAliveMessage: Decodable {
        struct Result: Decodable { var TTL: Int64Text? }
        var result: Result?
    }

    struct LeaseTimeToLiveRequest: Encodable {
        var ID: Int64Text
        var keys: Bool
    }

    struct LeaseTimeToLiveResponse: Decodable {
        var TTL: Int64Text?
        var keys: [String]?
    }

    struct WatchRequest: Encodable {
        struct Create: Encodable {
            var key: String
            var range_end: String?
            var start_revision: Int64Text?
            var prev_kv: Bool
        }
        var create_request: Create
    }

    struct WatchMessage: Decodable {
        struct Result: Decodable {
            var canceled: Bool?
            var cancel_reason: String?
            var compact_revision: Int64Text?
            var events: [Event]?
        }
        struct Event: Decodable {
            var type: String?
            var kv: KeyValue?
            var prev_kv: KeyValue?
        }
        var result: Result?
        var error: StreamError?
    }

    /// How the gateway reports an error inside a stream.
    struct StreamError: Decodable {
        var grpc_code: Int?
        var message: String?
    }

    /// How the gateway reports a failed call (a non-2xx status).
    struct CallError: Decodable {
        var code: Int?
        var message: String?
        var error: String?
    }

    struct LeaderKey: Codable {
        var name: String?
        var key: String?
        var rev: Int64Text?
        var lease: Int64Text?
    }

    struct CampaignRequest: Encodable {
        var name: String
        var lease: Int64Text
        var value: String
    }

    struct CampaignResponse: Decodable { var leader: LeaderKey? }

    struct ProclaimRequest: Encodable {
        var leader: LeaderKey
        var value: String
    }

    struct LeaderRequest: Encodable { var name: String }

    struct LeaderResponse: Decodable { var kv: KeyValue? }

    struct ObserveMessage: Decodable {
        var result: LeaderResponse?
        var error: StreamError?
    }

    struct ResignRequest: Encodable { var leader: LeaderKey }

    struct Empty: Decodable {}
}
