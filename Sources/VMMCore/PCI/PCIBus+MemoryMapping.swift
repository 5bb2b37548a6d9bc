extension PCIBus {
    /// Registers every assigned memory BAR on `builder`, so that accesses inside a BAR
    /// reach its device's `readBAR`/`writeBAR` with offsets relative to the BAR.
    public func registerBARs(on builder: inout MMIOBus.Builder) {
        for device in devices {
            for bar in device.configuration.bars {
                guard let address = device.configuration.barAddress(bar.index) else { continue }
                builder.register(BARWindow(device: device, index: bar.index), base: address, size: bar.size)
            }
        }
    }
}

/// One BAR of one device as an MMIO range.
private final class BARWindow: MMIODevice {
    let device: any PCIDevice
    let index: Int

    init(device: any PCIDevice, index: Int) {
        self.device = device
        self.index = index
    }

    func read(offset: UInt64, size: Int) -> UInt64 { device.readBAR(index, offset: offset, size: size) }

    func write(offset: UInt64, size: Int, value: UInt64) {
        device.writeBAR(index, offset: offset, size: size, value: value)
    }
}
