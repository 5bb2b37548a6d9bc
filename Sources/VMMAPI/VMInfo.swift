/// A VM as the API reports it: its definition and its runtime state.
public struct VMInfo: Codable, Equatable, Sendable {
    public var definition: VMDefinition
    public var state: VMState
    /// The `vmm` process while one exists.
    public var pid: Int32?
    /// Seconds since the VM last started, while it has a process.
    public var uptime: Double?
    /// How the last run ended (e.g. "poweroff", "crashed: exit status 4"), once one did.
    public var lastExit: String?
    /// What the daemon is doing for the VM right now, if it takes a while.
    public var operation: VMOperation?
    /// The balloon as the running VM's `vmm` reports it (`GET /v1/vms/{name}` only).
    public var balloon: VMBalloonStatus?
    /// In a cluster: the host the VM runs on, or is defined on while it does not run.
    public var host: String?

    public init(
        definition: VMDefinition, state: VMState, pid: Int32? = nil, uptime: Double? = nil, lastExit: String? = nil,
        operation: VMOperation? = nil, host: String? = nil
    ) {
        self.definition = definition
        self.state = state
        self.pid = pid
        self.uptime = uptime
        self.lastExit = lastExit
        self.operation = operation
        self.host = host
    }
}

/// The body of `GET /v1/vms`.
public struct VMList: Codable, Equatable, Sendable {
    public var vms: [VMInfo]
    public init(vms: [VMInfo]) { self.vms = vms }
}
