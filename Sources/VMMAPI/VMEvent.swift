/// One state change, as `GET /v1/events` streams it (one JSON object per line).
public struct VMEvent: Codable, Equatable, Sendable {
    /// Seconds since the Unix epoch.
    public var time: Double
    public var vm: String
    public var state: VMState
    public var previous: VMState?
    /// Why, when it is not obvious (e.g. "vmm exited with status 4").
    public var reason: String?

    public init(time: Double, vm: String, state: VMState, previous: VMState? = nil, reason: String? = nil) {
        self.time = time
        self.vm = vm
        self.state = state
        self.previous = previous
        self.reason = reason
    }
}
