import Foundation

extension EtcdClient {
    /// The key, or nil when it does not exist (a linearizable read).
    public func get(_ key: String) async throws -> EtcdKeyValue? {
        try await range(key, prefix: false).keyValues.first
    }

    /// Every key starting with `prefix`, in key order, and the revision read at; each
    /// member may take `timeout` (default: the client's).
    public func get(prefix: String, timeout: Duration? = nil) async throws -> EtcdRange {
        try await range(prefix, prefix: true, timeout: timeout)
    }

    /// The key as it was at `revision` (etcd keeps history until it is compacted).
    public func get(_ key: String, atRevision revision: Int64) async throws -> EtcdKeyValue? {
        try await range(key, prefix: false, revision: revision).keyValues.first
    }

    private func range(_ key: String, prefix: Bool, revision: Int64? = nil, timeout: Duration? = nil) async throws -> EtcdRange {
        let response = try await call(
            "/v3/kv/range", Self.rangeRequest(key, prefix: prefix, revision: revision), repeating: .afterAnyFailure,
            timeout: timeout, as: EtcdWire.RangeResponse.self)
        return EtcdRange(keyValues: try (response.kvs ?? []).map { try $0.decoded() }, revision: response.header?.revision?.value ?? 0)
    }

    static func rangeRequest(_ key: String, prefix: Bool, revision: Int64?) -> EtcdWire.RangeRequest {
        EtcdWire.RangeRequest(
            key: EtcdWire.base64(key), range_end: prefix ? EtcdWire.base64(rangeEnd(ofPrefix: key)) : nil,
            revision: revision.map { .init($0) })
    }

    /// Writes the key (bound to `lease` unless it is 0); returns the revision of the write.
    @discardableResult
    public func put(_ key: String, value: [UInt8], lease: Int64 = 0) async throws -> Int64 {
        let request = EtcdWire.PutRequest(key: EtcdWire.base64(key), value: EtcdWire.base64(value), lease: lease == 0 ? nil : .init(lease))
        return try await call("/v3/kv/put", request, repeating: .ifUnsent, as: EtcdWire.PutResponse.self).header?.revision?.value ?? 0
    }

    /// Writes `value` as JSON.
    @discardableResult
    public func put(_ key: String, json value: some Encodable, lease: Int64 = 0) async throws -> Int64 {
        try await put(key, value: Array(try JSONEncoder().encode(value)), lease: lease)
    }

    /// Deletes the key; returns how many keys were deleted (0 or 1).
    @discardableResult
    public func delete(_ key: String) async throws -> Int64 {
        try await deleteRange(key, prefix: false)
    }

    /// Deletes every key starting with `prefix`; returns how many there were.
    @discardableResult
    public func delete(prefix: String) async throws -> Int64 {
        try await deleteRange(prefix, prefix: true)
    }

    private func deleteRange(_ key: String, prefix: Bool) async throws -> Int64 {
        let request = EtcdWire.DeleteRangeRequest(
            key: EtcdWire.base64(key), range_end: prefix ? EtcdWire.base64(Self.rangeEnd(ofPrefix: key)) : nil)
        return try await call("/v3/kv/deleterange", request, repeating: .ifUnsent, as: EtcdWire.DeleteRangeResponse.self).deleted?.value ?? 0
    }

    /// Runs `success` if every compare holds, else `failure`, as one atomic step.
    public func txn(
        compare: [EtcdCompare], success: [EtcdOperation], failure: [EtcdOperation] = []
    ) async throws -> EtcdTxnResult {
        let request = EtcdWire.TxnRequest(compare: compare.map(\.wire), success: success.map(\.wire), failure: failure.map(\.wire))
        let response = try await call("/v3/kv/txn", request, repeating: .ifUnsent, as: EtcdWire.TxnResponse.self)
        return EtcdTxnResult(
            succeeded: response.succeeded ?? false, revision: response.header?.revision?.value ?? 0,
            results: try (response.responses ?? []).map { try ($0.response_range?.kvs ?? []).map { try $0.decoded() } })
    }
}
