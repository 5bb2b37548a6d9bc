/// A device on the x86 I/O port bus.
///
/// `offset` is relative to the base port the device was registered at; `size` is 1, 2
/// or 4. vCPU threads call these concurrently, so devices guard their own state.
public protocol PortIODevice: AnyObject, Sendable {
    func read(offset: UInt16, size: Int) -> UInt32
    func write(offset: UInt16, size: Int, value: UInt32)
}

/// A device mapped into guest-physical memory.
public protocol MMIODevice: AnyObject, Sendable {
    func read(offset: UInt64, size: Int) -> UInt64
    func write(offset: UInt64, size: Int, value: UInt64)
}

/// An interrupt input of the platform's interrupt controller, as a device sees it.
public protocol InterruptLine: Sendable {
    /// Drives the line: `true` asserts it, `false` releases it (level semantics).
    func set(high: Bool)
}

extension InterruptLine {
    /// Signals an edge-triggered interrupt.
    public func pulse() {
        set(high: true)
        set(high: false)
    }
}
