import Foundation

/// etcd's election (`/v3/election/*`): of everyone campaigning under one name, the one whose
/// campaign key is oldest leads, until it resigns or its lease ends.
public struct EtcdElection: Sendable {
    public let client: EtcdClient
    public let name: String

    public init(_ client: EtcdClient, name: String) {
        self.client = client
        self.name = name
    }

    /// Campaigns with `lease` and `value`; returns once this campaigner leads, which may be
    /// never. Campaigning again with the same lease continues the same campaign (the key is
    /// `NAME/LEASE_HEX`), so a campaign cut off by a dead member goes on at the next one.
    public func campaign(lease: Int64, value: [UInt8]) async throws -> EtcdLeadership {
        let request = EtcdWire.CampaignRequest(name: EtcdWire.base64(name), lease: .init(lease), value: EtcdWire.base64(value))
        while true {
            do {
                // The answer comes when the leaders before this one are gone, which may take
                // any time: the deadline is only there to give up on a member that hangs.
                let response = try await client.call(
                    "/v3/election/campaign", request, repeating: .afterAnyFailure, timeout: .seconds(24 * 3600),
                    as: EtcdWire.CampaignResponse.self)
                guard let leader = response.leader else { throw EtcdError.malformedResponse("a campaign answer without a leader") }
                return try EtcdLeadership(leader)
            } catch EtcdError.unavailable {
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// The leader's campaign key and value, or nil when nobody leads.
    public func leader() async throws -> EtcdKeyValue? {
        do {
            let response = try await client.call(
                "/v3/election/leader", EtcdWire.LeaderRequest(name: EtcdWire.base64(name)), repeating: .afterAnyFailure,
                as: EtcdWire.LeaderResponse.self)
            return try response.kv?.decoded()
        } catch EtcdError.refused(_, let message) where message.contains("no leader") {
            return nil
        }
    }

    /// Changes the leader's value without a new election.
    public func proclaim(_ leadership: EtcdLeadership, value: [UInt8]) async throws {
        let request = EtcdWire.ProclaimRequest(leader: leadership.wire, value: EtcdWire.base64(value))
        _ = try await client.call("/v3/election/proclaim", request, repeating: .afterAnyFailure, as: EtcdWire.Empty.self)
    }

    /// Gives the leadership up: the next campaigner leads.
    public func resign(_ leadership: EtcdLeadership) async throws {
        _ = try await client.call(
            "/v3/election/resign", EtcdWire.ResignRequest(leader: leadership.wire), repeating: .afterAnyFailure, as: EtcdWire.Empty.self)
    }
}
