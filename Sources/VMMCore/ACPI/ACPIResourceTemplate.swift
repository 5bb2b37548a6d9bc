/// `ResourceTemplate() { ... }` contents for `_CRS` (ACPI 6.3 §6.4).
enum ACPIResourceTemplate {
    /// `IO(Decode16, port, port, 1, length)`: a fixed range of I/O ports.
    static func io(port: UInt16, length: UInt8) -> [UInt8] {
        let decode16: UInt8 = 1
        let alignment: UInt8 = 1
        return [0x47, decode16, UInt8(truncatingIfNeeded: port), UInt8(port >> 8),
                UInt8(truncatingIfNeeded: port), UInt8(port >> 8), alignment, length]
    }

    /// `IRQNoFlags() { irq }`: edge-triggered, active-high, exclusive.
    static func irqNoFlags(_ irq: UInt8) -> [UInt8] {
        precondition(irq < 16, "IRQ descriptors name ISA IRQs")
        let mask = UInt16(1) << irq
        return [0x22, UInt8(truncatingIfNeeded: mask), UInt8(mask >> 8)]
    }

    /// The descriptors plus an End Tag whose checksum makes the template sum to 0, as
    /// an AML Buffer.
    static func buffer(_ descriptors: [[UInt8]]) -> [UInt8] {
        var template: [UInt8] = descriptors.flatMap { $0 } + [0x79]
        template.append(0 &- ACPIByteBuffer.sum(template))
        return ACPIAML.buffer(template)
    }
}
