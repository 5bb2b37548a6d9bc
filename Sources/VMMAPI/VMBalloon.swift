/// A VM's virtio-balloon device: how much of its RAM the guest should give back to the host.
public struct VMBalloon: Codable, Equatable, Sendable {
    /// Bytes of guest RAM the balloon should hold at start (at most `memory`); 0 for none yet.
    public var target: UInt64
    /// The guest takes pages back from the balloon when it runs out of memory.
    public var deflateOnOOM: Bool
    /// The guest reports memory it has free, which goes back to the host without a target.
    public var freePageReporting: Bool

    public init(target: UInt64 = 0, deflateOnOOM: Bool = true, freePageReporting: Bool = true) {
        self.target = target
        self.deflateOnOOM = deflateOnOOM
        self.freePageReporting = freePageReporting
    }

    private enum Field: String, CodingKey {
        case target, deflateOnOOM, freePageReporting
    }

    /// Every field is optional, with the defaults of `init`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Field.self)
        self.init(
            target: try container.decodeIfPresent(UInt64.self, forKey: .target) ?? 0,
            deflateOnOOM: try container.decodeIfPresent(Bool.self, forKey: .deflateOnOOM) ?? true,
            freePageReporting: try container.decodeIfPresent(Bool.self, forKey: .freePageReporting) ?? true)
    }
}

/// A change to the balloon in `PATCH /v1/vms/{name}`: on a running VM only `target`, which
/// the guest is asked for at once (and the definition keeps for the next start).
public struct VMBalloonPatch: Codable, Equatable, Sendable {
    public var target: UInt64?
    public var deflateOnOOM: Bool?
    public var freePageReporting: Bool?

    public init(target: UInt64? = nil, deflateOnOOM: Bool? = nil, freePageReporting: Bool? = nil) {
        self.target = target
        self.deflateOnOOM = deflateOnOOM
        self.freePageReporting = freePageReporting
    }
}

/// A running VM's balloon as its `vmm` reports it (`VMInfo.balloon`); sizes in bytes.
public struct VMBalloonStatus: Codable, Equatable, Sendable {
    /// What the host asks the guest to hold, and what the guest's driver says it holds.
    public var target: UInt64
    public var actual: UInt64
    /// Bytes given back to the host by inflation and by free page reporting since start.
    public var inflated: UInt64
    public var reported: UInt64
    /// The guest's last memory statistics, in bytes, if its driver sent any.
    public var guestFreeMemory: UInt64?
    public var guestTotalMemory: UInt64?
    public var guestAvailableMemory: UInt64?

    public init(
        target: UInt64, actual: UInt64, inflated: UInt64 = 0, reported: UInt64 = 0, guestFreeMemory: UInt64? = nil,
        guestTotalMemory: UInt64? = nil, guestAvailableMemory: UInt64? = nil
    ) {
        self.target = target
        self.actual = actual
        self.inflated = inflated
        self.reported = reported
        self.guestFreeMemory = guestFreeMemory
        self.guestTotalMemory = guestTotalMemory
        self.guestAvailableMemory = guestAvailableMemory
    }
}
