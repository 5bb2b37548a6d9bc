/// Options of `POST /v1/vms/{name}/stop` (and `delete` with `force`); all optional.
public struct VMStopRequest: Codable, Equatable, Sendable {
    /// Stop at once instead of pressing the power button first.
    public var force: Bool?
    /// Seconds the guest gets to power off after the power button (default 30).
    public var timeout: Double?

    public static let defaultTimeout = 30.0
    /// A day: longer waits are mistakes (and past Duration's range, a crash).
    public static let maximumTimeout = 86400.0

    public init(force: Bool? = nil, timeout: Double? = nil) {
        self.force = force
        self.timeout = timeout
    }
}
