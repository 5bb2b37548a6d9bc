extension EtcdClient {
    /// A new lease of `ttl` seconds (etcd raises a TTL below its minimum, about 1.5 election
    /// timeouts); returns its ID and the TTL granted.
    public func grantLease(ttl: Int64) async throws -> (id: Int64, ttl: Int64) {
        // Repeating a grant that timed out may leave an unused lease behind; it expires.
        let response = try await call(
            "/v3/lease/grant", EtcdWire.LeaseGrantRequest(TTL: .init(ttl)), repeating: .afterAnyFailure,
            as: EtcdWire.LeaseGrantResponse.self)
        if let error = response.error, !error.isEmpty { throw EtcdError.refused(code: 0, message: error) }
        guard let id = response.ID?.value, id != 0 else { throw EtcdError.malformedResponse("a lease grant without an ID") }
        return (id, response.TTL?.value ?? ttl)
    }

    /// Renews the lease to its full TTL; returns that TTL, or 0 when the lease no longer
    /// exists (it expired or was revoked).
    public func keepAlive(lease: Int64, timeout: Duration? = nil) async throws -> Int64 {
        let message = try await call(
            "/v3/lease/keepalive", EtcdWire.LeaseID(ID: .init(lease)), repeating: .afterAnyFailure, timeout: timeout,
            as: EtcdWire.LeaseKeepAliveMessage.self)
        return message.result?.TTL?.value ?? 0
    }

    /// Ends the lease now: every key bound to it is deleted. A lease that is already gone
    /// is not an error.
    public func revoke(lease: Int64) async throws {
        do {
            _ = try await call("/v3/lease/revoke", EtcdWire.LeaseID(ID: .init(lease)), repeating: .afterAnyFailure, as: EtcdWire.Empty.self)
        } catch EtcdError.refused(code: 5, _) {
            // Not found: expired or revoked before.
        }
    }

    /// The seconds the lease has left and the keys bound to it, or nil when it does not exist.
    public func timeToLive(lease: Int64) async throws -> (ttl: Int64, keys: [String])? {
        let response = try await call(
            "/v3/lease/timetolive", EtcdWire.LeaseTimeToLiveRequest(ID: .init(lease), keys: true), repeating: .afterAnyFailure,
            as: EtcdWire.LeaseTimeToLiveResponse.self)
        guard let ttl = response.TTL?.value, ttl >= 0 else { return nil }
        return (ttl, try (response.keys ?? []).map { String(decoding: try EtcdWire.bytes(base64: $0), as: UTF8.self) })
    }
}
