/// The test-kernel exit port (QEMU's isa-debug-exit): a write of V ends the VM, and vmm
/// exits with status (V << 1) | 1.
public final class DebugExit: PortIODevice {
    public static let port: UInt16 = 0xf4
    private let exitLatch: MachineExitLatch

    public init(exitLatch: MachineExitLatch) { self.exitLatch = exitLatch }

    public func read(offset: UInt16, size: Int) -> UInt32 { size >= 4 ? .max : (1 << (size * 8)) - 1 }

    public func write(offset: UInt16, size: Int, value: UInt32) {
        guard offset == 0 else { return }
        exitLatch.report(.debugExit(value))
    }
}
