/// The device manager's share of a snapshot: legacy devices, then PCI slot by slot.
extension PlatformDevices {
    var snapshottableDevices: [any Snapshottable] {
        var devices: [any Snapshottable] = [serial, cmos, keyboardController, firmwareConfig, powerManagement]
        // Slot 0, the host bridge, included: its command register is the guest's.
        for device in pciBus.slots {
            if let device = device as? any Snapshottable { devices.append(device) }
        }
        return devices
    }

    var virtioDevices: [VirtioPCIDevice] { pciBus.devices.compactMap { $0 as? VirtioPCIDevice } }
    /// The disks, in the order of the configuration's `disks`.
    var blockDevices: [VirtioBlockDevice] { virtioDevices.compactMap { $0.device as? VirtioBlockDevice } }

    /// Each disk's size in bytes, in the configuration's order.
    var diskSizes: [UInt64] { blockDevices.map(\.size) }

    /// Waits for the virtio devices' requests in flight and stops their threads.
    func quiesce() { for device in virtioDevices { device.quiesce() } }
    func resumeAfterQuiesce() { for device in virtioDevices { device.resumeAfterQuiesce() } }

    func saveState(to encoder: inout StateEncoder) throws(VMMError) {
        let devices = snapshottableDevices
        encoder.append(UInt32(devices.count))
        for device in devices { try device.saveState(to: &encoder) }
    }

    func restoreState(from decoder: inout StateDecoder) throws(VMMError) {
        let devices = snapshottableDevices
        let count = Int(try decoder.read(UInt32.self))
        guard count == devices.count else {
            throw decoder.malformed("\(count) devices saved, this machine has \(devices.count)")
        }
        for device in devices { try device.restoreState(from: &decoder) }
    }
}
