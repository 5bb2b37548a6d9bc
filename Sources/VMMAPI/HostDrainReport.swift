/// What a drain did, VM by VM: `POST /v1/host/drain`'s answer, and `GET /v1/host`'s
/// `drain` while one runs or after.
public struct HostDrainReport: Codable, Equatable, Sendable {
    /// One VM's outcome.
    public struct Entry: Codable, Equatable, Sendable {
        public var vm: String
        /// Where it went (or was going).
        public var to: String?
        /// `pending`, `migrating`, `moved` (running there), `defined` (a stopped VM's
        /// definition moved), or `failed` (it stays here; see `reason`).
        public var outcome: String
        public var reason: String?

        public init(vm: String, to: String? = nil, outcome: String, reason: String? = nil) {
            self.vm = vm
            self.to = to
            self.outcome = outcome
            self.reason = reason
        }
    }

    /// Whether the drain has finished its work (the host stays draining until undrained).
    public var finished: Bool
    public var vms: [Entry]
    /// VMs still running here once finished.
    public var running: Int

    public init(finished: Bool, vms: [Entry], running: Int) {
        self.finished = finished
        self.vms = vms
        self.running = running
    }
}
