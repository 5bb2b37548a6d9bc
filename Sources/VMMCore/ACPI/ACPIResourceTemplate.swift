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

    /// `Memory32Fixed(ReadWrite, base, size)`.
    static func memory32Fixed(base: UInt32, size: UInt32) -> [UInt8] {
        let readWrite: UInt8 = 1
        return [0x86, 0x09, 0x00, readWrite] + littleEndian(base) + littleEndian(size)
    }

    /// `WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, ...)`: the bus
    /// numbers a host bridge decodes.
    static func wordBusNumber(_ buses: ClosedRange<UInt16>) -> [UInt8] {
        wordAddressSpace(type: 2, typeFlags: 0, buses)
    }

    /// `WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, ...)`: an I/O
    /// port window a host bridge forwards.
    static func wordIO(_ ports: ClosedRange<UInt16>) -> [UInt8] {
        let entireRange: UInt8 = 3
        return wordAddressSpace(type: 1, typeFlags: entireRange, ports)
    }

    /// `DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable,
    /// ReadWrite, ...)`: a memory window a host bridge forwards.
    static func dwordMemory(_ window: Range<UInt64>) -> [UInt8] {
        precondition(!window.isEmpty && window.upperBound <= 1 << 32, "DWordMemory windows lie below 4 GiB")
        let readWrite: UInt8 = 1
        let fields = [0, window.lowerBound, window.upperBound - 1, 0, UInt64(window.count)]
        return [0x87, 23, 0, 0, producerFixedRange, readWrite]
            + fields.flatMap { littleEndian(UInt32(truncatingIfNeeded: $0)) }
    }

    /// The descriptors plus an End Tag whose checksum makes the template sum to 0, as
    /// an AML Buffer.
    static func buffer(_ descriptors: [[UInt8]]) -> [UInt8] {
        var template: [UInt8] = descriptors.flatMap { $0 } + [0x79]
        template.append(0 &- ACPIByteBuffer.sum(template))
        return ACPIAML.buffer(template)
    }

    /// General flags of an address space descriptor: produced (forwarded) by the device,
    /// positive decode, minimum and maximum fixed.
    private static let producerFixedRange: UInt8 = 0b1100

    /// A Word Address Space Descriptor: granularity, minimum, maximum, translation, length.
    private static func wordAddressSpace(type: UInt8, typeFlags: UInt8, _ range: ClosedRange<UInt16>) -> [UInt8] {
        let fields = [0, range.lowerBound, range.upperBound, 0, range.upperBound - range.lowerBound &+ 1]
        return [0x88, 13, 0, type, producerFixedRange, typeFlags]
            + fields.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)] }
    }

    private static func littleEndian(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}
