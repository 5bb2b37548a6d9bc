import Foundation

/// Network namespaces standing for hosts, joined by one bridge (in a namespace of its own):
/// host `i` has `eth0` with 10.77.0.(i+1)/24, the other end `h<i>` on the bridge. The
/// bridge itself has `switchAddress`, for services every host reaches (etcd in the cluster
/// tests) and that a host's link going down cuts it off from. The
/// namespaces share the machine's file system, which is the "shared storage" of the tests.
/// Needs root. `delete()` removes everything (the interfaces go with their namespaces).
final class HostNetwork: @unchecked Sendable {
    let prefix: String
    let count: Int
    var bridgeNamespace: String { "\(prefix)-br" }
    private var created: [String] = []

    private static let counter = Counter()

    init(hosts count: Int) async throws {
        prefix = "vmmh\(getpid())-\(Self.counter.next())"
        self.count = count
        do {
            try await Self.ip(["netns", "add", bridgeNamespace])
            created.append(bridgeNamespace)
            try await Self.ip(["-n", bridgeNamespace, "link", "add", "br0", "type", "bridge"])
            try await Self.ip(["-n", bridgeNamespace, "link", "set", "br0", "up"])
            try await Self.ip(["-n", bridgeNamespace, "addr", "add", "\(switchAddress)/24", "dev", "br0"])
            // Services on the switch reach each other through its loopback.
            try await Self.ip(["-n", bridgeNamespace, "link", "set", "lo", "up"])
            for index in 0..<count {
                let host = namespace(index)
                try await Self.ip(["netns", "add", host])
                created.append(host)
                try await Self.ip(["-n", host, "link", "set", "lo", "up"])
                try await Self.ip(["-n", bridgeNamespace, "link", "add", "h\(index)", "type", "veth", "peer", "name", "eth0", "netns", host])
                try await Self.ip(["-n", bridgeNamespace, "link", "set", "h\(index)", "master", "br0", "up"])
                try await Self.ip(["-n", host, "addr", "add", "\(address(index))/24", "dev", "eth0"])
                try await Self.ip(["-n", host, "link", "set", "eth0", "up"])
            }
        } catch {
            await delete()
            throw error
        }
    }

    func namespace(_ index: Int) -> String { "\(prefix)-\(index)" }

    func address(_ index: Int) -> String { "10.77.0.\(index + 1)" }

    /// The bridge's own address, in `bridgeNamespace`.
    var switchAddress: String { "10.77.0.254" }

    /// `arguments` as run inside host `index`'s namespace.
    func command(_ index: Int, _ arguments: [String]) -> [String] {
        ["/usr/sbin/ip", "netns", "exec", namespace(index)] + arguments
    }

    /// Takes host `index`'s link down (`up: false`) or up again: its packets stop, as if its
    /// cable were pulled.
    func setLink(_ index: Int, up: Bool) async throws {
        try await Self.ip(["-n", bridgeNamespace, "link", "set", "h\(index)", up ? "up" : "down"])
    }

    /// Deletes every namespace made (safe to call twice).
    func delete() async {
        for name in created.reversed() {
            _ = try? await Subprocess.run(["/usr/sbin/ip", "netns", "delete", name], timeout: .seconds(20))
        }
        created = []
    }

    private static func ip(_ arguments: [String]) async throws {
        let result = try await Subprocess.run(["/usr/sbin/ip"] + arguments, timeout: .seconds(20))
        guard result.status == 0 else {
            throw HarnessError("`ip \(arguments.joined(separator: " "))` failed: \(result.error)\(result.output)")
        }
    }

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int { lock.withLock { value += 1; return value } }
    }
}
