import ClusterTestSupport
import Etcd
import Foundation
import Glibc
import Testing
import VMMAPI

/// The etcd client against a real three-member etcd on loopback, shared by the suite's
/// tests (each under keys of its own); serialized because one test stops a member.
@Suite(.serialized, .etcdCluster(members: 3))
struct EtcdClientTests {
    let cluster = EtcdCluster.current!
    let prefix = "test/\(UUID().uuidString.prefix(8))/"

    func client(timeout: Duration = .seconds(2)) throws -> EtcdClient {
        try EtcdClient(urls: cluster.clientURLs, timeout: timeout)
    }

    @Test func putGetAndDeleteKeys() async throws {
        let etcd = try client()
        let first = try await etcd.put(prefix + "a", value: Array("one".utf8))
        let second = try await etcd.put(prefix + "b", json: ["x": 1])
        #expect(second > first)

        let a = try #require(try await etcd.get(prefix + "a"))
        #expect(a.text == "one")
        #expect(a.createRevision == first && a.modRevision == first && a.version == 1 && a.lease == 0)
        #expect(try await etcd.get(prefix + "b")?.decode([String: Int].self) == ["x": 1])
        #expect(try await etcd.get(prefix + "missing") == nil)

        let all = try await etcd.get(prefix: prefix)
        #expect(all.keyValues.map(\.key) == [prefix + "a", prefix + "b"])
        #expect(all.revision >= second)

        try await etcd.put(prefix + "a", value: Array("two".utf8))
        #expect(try await etcd.get(prefix + "a", atRevision: first)?.text == "one")
        #expect(try await etcd.get(prefix + "a")?.version == 2)

        #expect(try await etcd.delete(prefix + "a") == 1)
        #expect(try await etcd.get(prefix + "a") == nil)
        #expect(try await etcd.delete(prefix: prefix) == 1)
        #expect(try await etcd.get(prefix: prefix).keyValues.isEmpty)
    }

    @Test func transactionsCompareRevisions() async throws {
        let etcd = try client()
        let key = prefix + "owner"
        let claim = { (who: String) in
            try await etcd.txn(compare: [.absent(key)], success: [.put(key, value: Array(who.utf8))], failure: [.get(key)])
        }
        let won = try await claim("host-a")
        #expect(won.succeeded)
        let lost = try await claim("host-b")
        #expect(!lost.succeeded)
        #expect(lost.results.first?.first?.text == "host-a")

        // An update based on what was read succeeds once; the same stale read then fails.
        let read = try #require(try await etcd.get(key))
        let update = { (value: String) in
            try await etcd.txn(compare: [.unchanged(key, since: read.modRevision)], success: [.put(key, value: Array(value.utf8))])
        }
        let first = try await update("host-c")
        #expect(first.succeeded && first.revision > read.modRevision)
        #expect(try await !update("host-d").succeeded)
        #expect(try await etcd.get(key)?.text == "host-c")

        let versionCheck = try await etcd.txn(compare: [EtcdCompare(key, .version(2))], success: [.delete(key)])
        #expect(versionCheck.succeeded)
        #expect(try await etcd.get(key) == nil)
    }

    @Test func keysOfALeaseThatIsNotRenewedVanish() async throws {
        let etcd = try client()
        // TTLs of 4 s rather than etcd's minimum of 2: on a loaded machine the three calls
        // before the check below can take longer than 2 s.
        let kept = try await LeaseKeeper.grant(etcd, ttl: 4, interval: .milliseconds(500))
        let abandoned = try await etcd.grantLease(ttl: 4)
        #expect(abandoned.ttl == 4 && kept.ttl == 4)
        try await etcd.put(prefix + "kept", value: [1], lease: kept.id)
        try await etcd.put(prefix + "abandoned", value: [2], lease: abandoned.id)
        #expect(try await etcd.timeToLive(lease: abandoned.id)?.keys == [prefix + "abandoned"])

        let begin = ContinuousClock.now
        #expect(try await eventually(seconds: 10) { try await etcd.get(prefix + "abandoned") == nil })
        let expiredAfter = ContinuousClock.now - begin
        #expect(expiredAfter > .seconds(1))
        #expect(try await etcd.timeToLive(lease: abandoned.id) == nil)
        // Renewed all along: it outlived a lease of the same TTL granted after it.
        #expect(try await etcd.get(prefix + "kept")?.lease == kept.id)
        #expect(ContinuousClock.now - kept.lastRenewal < .seconds(1))
        #expect(!kept.isLost)

        try await kept.revoke()
        #expect(try await etcd.get(prefix + "kept") == nil)
        #expect(try await etcd.keepAlive(lease: kept.id) == 0)
    }

    @Test func aKeeperNoticesItsLeaseIsGone() async throws {
        let etcd = try client()
        let keeper = try await LeaseKeeper.grant(etcd, ttl: 5, interval: .milliseconds(200))
        try await etcd.revoke(lease: keeper.id)
        let noticed = Task { await keeper.waitUntilLost() }
        try await withTimeout(.seconds(5)) { await noticed.value }
        #expect(keeper.isLost)
    }

    @Test func aWatchSeesEveryChangeAndSurvivesAMemberStopping() async throws {
        // The watch starts on member 0 (the first endpoint); writes go to the others.
        let watcher = try client()
        let writer = try EtcdClient(urls: Array(cluster.clientURLs.dropFirst()))
        let start = try await writer.get(prefix: prefix).revision + 1
        let seen = EventLog()
        let watching = Task {
            for try await event in EtcdWatch(watcher, key: prefix, prefix: true, fromRevision: start, previousValues: true) {
                await seen.append(event)
            }
        }
        defer { watching.cancel() }

        try await writer.put(prefix + "x", value: Array("1".utf8))
        try await writer.put(prefix + "x", value: Array("2".utf8))
        #expect(try await eventually(seconds: 10) { await seen.events.count >= 2 })

        cluster.kill(0)
        do {
            // If member 0 led, writes wait for the others to elect a leader (about a second).
            try await cluster.waitUntilHealthy(1)
            try await writer.delete(prefix + "x")
            try await writer.put(prefix + "y", value: Array("3".utf8))
            #expect(try await eventually(seconds: 15) { await seen.events.count >= 4 })
            // Reads through the client that knew member 0 first fail over too.
            #expect(try await watcher.get(prefix + "y")?.text == "3")
        } catch {
            try await cluster.restart(0)
            throw error
        }
        try await cluster.restart(0)

        let events = await seen.events
        try #require(events.count == 4)
        #expect(events.map(\.kind) == [.put, .put, .delete, .put])
        #expect(events.map(\.keyValue.key) == [prefix + "x", prefix + "x", prefix + "x", prefix + "y"])
        #expect(events.map(\.keyValue.text) == ["1", "2", "", "3"])
        #expect(events.map { $0.previous?.text } == [nil, "1", "2", nil])
        // Consecutive revisions: nothing lost or repeated across the member's death.
        let revisions = events.map(\.keyValue.modRevision)
        #expect(revisions == Array(revisions[0]..<(revisions[0] + 4)))
        #expect(revisions[0] == start)
    }

    /// Two of three members stopped: no quorum. Renewals stop (the fence clock runs), calls
    /// fail within their timeout, and when the members return a new etcd leader refreshes
    /// every lease: this one survives an outage longer than its TTL (docs/cluster.md,
    /// section 4: why a fenced host must give its lease up itself), and the watch resumes.
    @Test func withoutAQuorumRenewalsStopAndTheLeaseOutlivesTheOutage() async throws {
        let etcd = try client(timeout: .milliseconds(500))
        let keeper = try await LeaseKeeper.grant(etcd, ttl: 2, interval: .milliseconds(300))
        try await etcd.put(prefix + "leased", value: [1], lease: keeper.id)
        let seen = EventLog()
        let start = try await etcd.get(prefix: prefix).revision + 1
        let watching = Task {
            for try await event in EtcdWatch(etcd, key: prefix, prefix: true, fromRevision: start) { await seen.append(event) }
        }
        defer { watching.cancel() }

        cluster.kill(1)
        cluster.kill(2)
        do {
            #expect(try await eventually(seconds: 10) { ContinuousClock.now - keeper.lastRenewal > .seconds(3) })
            let lonely = try EtcdClient(urls: [cluster.clientURLs[0]], timeout: .milliseconds(500))
            await #expect(throws: EtcdError.self) { _ = try await lonely.get(prefix + "leased") }
        } catch {
            try await cluster.restart(1, 2)
            throw error
        }
        try await cluster.restart(1, 2)

        #expect(try await eventually(seconds: 10) { ContinuousClock.now - keeper.lastRenewal < .milliseconds(500) })
        #expect(!keeper.isLost)
        #expect(try await etcd.get(prefix + "leased")?.lease == keeper.id)
        try await etcd.put(prefix + "after", value: [2])
        #expect(try await eventually(seconds: 10) { await seen.events.map(\.keyValue.key) == [prefix + "after"] })
        try await keeper.revoke()
    }

    @Test func theElectionHasOneLeaderAndHandsOverWhenItsLeaseEnds() async throws {
        let etcd = try client()
        let election = EtcdElection(etcd, name: prefix + "manager")
        #expect(try await election.leader() == nil)
        let leaseA = try await etcd.grantLease(ttl: 10)
        let leaseB = try await etcd.grantLease(ttl: 10)

        let a = try await election.campaign(lease: leaseA.id, value: Array("host-a".utf8))
        #expect(a.lease == leaseA.id)
        let b = Task { try await election.campaign(lease: leaseB.id, value: Array("host-b".utf8)) }
        // B's campaign key exists, and A still leads.
        #expect(try await eventually(seconds: 10) { try await etcd.get(prefix: prefix + "manager/").keyValues.count == 2 })
        #expect(try await election.leader()?.text == "host-a")

        try await election.proclaim(a, value: Array("host-a v2".utf8))
        #expect(try await election.leader()?.text == "host-a v2")

        try await etcd.revoke(lease: leaseA.id)
        let leadershipB = try await withTimeout(.seconds(10)) { try await b.value }
        #expect(leadershipB.lease == leaseB.id && leadershipB.revision > a.revision)
        #expect(try await election.leader()?.text == "host-b")

        try await election.resign(leadershipB)
        #expect(try await election.leader() == nil)
        try await etcd.revoke(lease: leaseB.id)
    }

    @Test func membersThatDoNotAnswerAreSkippedAndNamedWhenNoneDoes() async throws {
        let nobody = "http://127.0.0.1:\(try freeTCPPort())"
        let failingOver = try EtcdClient(urls: [nobody] + cluster.clientURLs)
        try await failingOver.put(prefix + "k", value: [7])
        #expect(try await failingOver.get(prefix + "k")?.value == [7])

        let alone = try EtcdClient(urls: [nobody])
        await #expect {
            _ = try await alone.get(prefix + "k")
        } throws: { error in
            guard case EtcdError.unavailable(let reasons) = error else { return false }
            return reasons == ["\(nobody): connection refused"]
        }
        #expect(throws: HostAndPortError.self) { try EtcdClient(urls: ["127.0.0.1:2379"]) }
    }

    @Test func readsGoOnPastAMemberThatDoesNotAnswerAndWritesDoNot() async throws {
        let silent = try SilentListener()
        defer { silent.close() }
        let etcd = try EtcdClient(urls: [silent.url] + cluster.clientURLs, timeout: .milliseconds(300))
        try await client().put(prefix + "r", value: Array("r".utf8))
        #expect(try await etcd.get(prefix + "r")?.text == "r")
        // The read made the next member the preferred one; a fresh client starts at the silent one.
        let fresh = try EtcdClient(urls: [silent.url] + cluster.clientURLs, timeout: .milliseconds(300))
        await #expect(throws: EtcdError.unavailable(reasons: ["\(silent.url): no answer in time"])) {
            try await fresh.put(prefix + "w", value: [1])
        }
    }

    /// Not a check: what the report quotes (cluster start, call latencies on this machine).
    @Test func measuredLatencies() async throws {
        let etcd = try client()
        func median(_ samples: Int = 30, _ call: () async throws -> Void) async throws -> Duration {
            var durations: [Duration] = []
            for _ in 0..<samples {
                let begin = ContinuousClock.now
                try await call()
                durations.append(ContinuousClock.now - begin)
            }
            return durations.sorted()[samples / 2]
        }
        let put = try await median { try await etcd.put(prefix + "latency", value: [1]) }
        let get = try await median { _ = try await etcd.get(prefix + "latency") }
        let txn = try await median { _ = try await etcd.txn(compare: [.absent(prefix + "none")], success: [.get(prefix + "latency")]) }
        let lease = try await etcd.grantLease(ttl: 5)
        let keepAlive = try await median { _ = try await etcd.keepAlive(lease: lease.id) }
        try await etcd.revoke(lease: lease.id)
        print("etcd: 3-member start \(cluster.startDuration); median put \(put), get \(get), txn \(txn), keep-alive \(keepAlive)")
    }
}

/// A TCP port on 127.0.0.1 that accepts connections (the kernel completes the handshake)
/// and never answers: an etcd member that hangs.
struct SilentListener {
    let descriptor: Int32
    let url: String

    init() throws {
        let port = try freeTCPPort()
        url = "http://127.0.0.1:\(port)"
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 16) == 0 else { throw ClusterTestError("cannot listen on 127.0.0.1:\(port)") }
    }

    func close() { Glibc.close(descriptor) }
}

actor EventLog {
    private(set) var events: [EtcdWatchEvent] = []
    func append(_ event: EtcdWatchEvent) { events.append(event) }
}

struct TimedOut: Error {}

/// `body`'s result, or ``TimedOut`` when it takes longer than `limit`.
func withTimeout<Result: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> Result) async throws -> Result {
    try await withThrowingTaskGroup(of: Result.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimedOut()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
