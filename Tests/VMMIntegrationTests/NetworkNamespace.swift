import Foundation

/// A network namespace of the test's own (`ip netns add`), deleted when the value goes
/// away: every frame a test VM sends stays inside it. Needs root (CAP_SYS_ADMIN and
/// CAP_NET_ADMIN).
final class NetworkNamespace {
    let name: String
    private var deleted = false

    private static let counter = Counter()

    /// Creates the namespace with its loopback up.
    init() throws {
        name = "vmmtest-\(getpid())-\(Self.counter.next())"
        try HostCommand.check(["ip", "netns", "add", name])
        do {
            try HostCommand.check(["ip", "-n", name, "link", "set", "lo", "up"])
        } catch {
            delete()
            throw error
        }
    }

    deinit { delete() }

    /// Deletes the namespace now (also done by deinit). Interfaces in it (the taps) go with it.
    func delete() {
        guard !deleted else { return }
        deleted = true
        _ = try? HostCommand.run(["ip", "netns", "delete", name], timeout: 20)
    }

    /// Adds a persistent tap `tapName`, gives it `address` (CIDR, e.g. 10.0.2.2/24) and sets it up.
    /// Until a VM attaches to it, the tap has no carrier.
    func addTap(_ tapName: String, address: String? = nil) throws {
        try HostCommand.check(["ip", "-n", name, "tuntap", "add", "dev", tapName, "mode", "tap"])
        if let address {
            try HostCommand.check(["ip", "-n", name, "addr", "add", address, "dev", tapName])
        }
        try HostCommand.check(["ip", "-n", name, "link", "set", tapName, "up"])
    }

    /// Adds a tun (layer 3) device: an interface a tap of that name cannot attach to.
    func addTunnel(_ interfaceName: String) throws {
        try HostCommand.check(["ip", "-n", name, "tuntap", "add", "dev", interfaceName, "mode", "tun"])
    }

    /// `arguments` as run inside the namespace (`ip netns exec`, which execs the program:
    /// the process id is the program's own).
    func command(_ arguments: [String]) -> [String] {
        ["ip", "netns", "exec", name] + arguments
    }

    /// Starts `arguments` inside the namespace in the background.
    func start(_ arguments: [String]) throws -> HostCommand {
        let process = try HostCommand(command(arguments))
        try process.start()
        return process
    }

    /// Runs `arguments` inside the namespace to completion.
    func run(_ arguments: [String], timeout: TimeInterval = 60) throws -> HostCommand.Result {
        try HostCommand.run(command(arguments), timeout: timeout)
    }

    /// Whether namespaces can be made here: root, with `ip` installed.
    static var available: Bool {
        getuid() == 0 && (try? HostCommand.locate("ip")) != nil
    }

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int { lock.withLock { value += 1; return value } }
    }
}
