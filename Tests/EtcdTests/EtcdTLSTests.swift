import ClusterTestSupport
import Etcd
import Foundation
import Testing
import VMMAPI

/// The client against a one-member etcd that requires TLS with a client certificate
/// (`--client-cert-auth`): certificates from scripts/make-certificates.sh.
@Suite(.serialized, .etcdCluster(members: 1, tls: true))
struct EtcdTLSTests {
    let cluster = EtcdCluster.current!
    let prefix = "tls/\(UUID().uuidString.prefix(8))/"

    @Test func aClientWithACertificateOfTheCAIsServed() async throws {
        let etcd = try EtcdClient(urls: cluster.clientURLs, tls: try #require(cluster.clientTLS))
        try await etcd.put(prefix + "k", value: Array("v".utf8))
        #expect(try await etcd.get(prefix + "k")?.text == "v")

        let keeper = try await LeaseKeeper.grant(etcd, ttl: 5, interval: .milliseconds(300))
        let renewed = keeper.lastRenewal
        #expect(try await eventually(seconds: 5) { keeper.lastRenewal > renewed })
        try await keeper.revoke()

        let seen = EventLog()
        let start = try await etcd.get(prefix: prefix).revision + 1
        let watching = Task {
            for try await event in EtcdWatch(etcd, key: prefix, prefix: true, fromRevision: start) { await seen.append(event) }
        }
        defer { watching.cancel() }
        try await etcd.put(prefix + "w", value: [1])
        #expect(try await eventually(seconds: 10) { await seen.events.map(\.keyValue.key) == [prefix + "w"] })
        print("etcd: 1-member start with TLS \(cluster.startDuration)")
    }

    @Test func aClientOfAnotherCAOrWithoutTLSIsRefused() async throws {
        let strangers = "\(cluster.root)/strangers"
        try EtcdCluster.makeCertificates(in: strangers, ["client"])
        let files = try #require(cluster.clientTLS)
        let stranger = TLSFiles(certificate: "\(strangers)/client.crt", key: "\(strangers)/client.key", certificateAuthority: files.certificateAuthority)
        await #expect {
            _ = try await EtcdClient(urls: cluster.clientURLs, tls: stranger).get(prefix + "k")
        } throws: { error in
            guard case EtcdError.unavailable(let reasons) = error else { return false }
            return reasons.count == 1 && reasons[0].contains("TLS")
        }
        let plain = cluster.clientURLs[0].replacingOccurrences(of: "https://", with: "http://")
        await #expect(throws: EtcdError.self) { _ = try await EtcdClient(urls: [plain]).get(prefix + "k") }
    }
}
