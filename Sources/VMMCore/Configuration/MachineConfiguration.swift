/// Everything needed to build one virtual machine.
public struct MachineConfiguration: Sendable {
    public static let defaultMemorySize: UInt64 = 256 << 20

    public var kernelPath: String
    public var initrdPath: String?
    public var commandLine: String
    public var cpuCount: Int
    public var memorySize: UInt64
    public var cpuFeatures: CPUFeatureSelection
    /// Whether the machine has an i8254 PIT (Linux can do without one).
    public var hasPIT: Bool

    public init(
        kernelPath: String, initrdPath: String? = nil, commandLine: String = "", cpuCount: Int = 1,
        memorySize: UInt64 = defaultMemorySize, cpuFeatures: CPUFeatureSelection = .init(), hasPIT: Bool = true
    ) {
        self.kernelPath = kernelPath
        self.initrdPath = initrdPath
        self.commandLine = commandLine
        self.cpuCount = cpuCount
        self.memorySize = memorySize
        self.cpuFeatures = cpuFeatures
        self.hasPIT = hasPIT
    }
}
