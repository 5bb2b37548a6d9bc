/// Quiescing, saving and restoring a virtio device with its PCI transport.
///
/// A snapshot first quiesces the device: its threads stop after every request in flight
/// has completed (and is in the used ring), so the saved ring positions account for every
/// request exactly once. Afterwards the device resumes on the same queues.
extension VirtioPCIDevice: Snapshottable {
    /// Stops the device's threads, keeping its queues; no-op when the driver is not ready.
    func quiesce() {
        lifecycle.withLock { _ in
            guard activeQueues.withLock({ $0 }) != nil else { return }
            device.quiesce()
        }
    }

    /// Starts the device again on the queues it had before `quiesce`.
    func resumeAfterQuiesce() {
        lifecycle.withLock { _ in
            guard let queues = activeQueues.withLock({ $0 }) else { return }
            let features = registers.withLock { $0.driverFeatures }
            start(queues: queues, features: features)
        }
    }

    public func saveState(to encoder: inout StateEncoder) throws(VMMError) {
        // Devices with state of their own (the balloon) save it inside this section.
        var deviceState: StateEncoder?
        if let device = device as? any Snapshottable {
            var inner = StateEncoder()
            try device.saveState(to: &inner)
            deviceState = inner
        }
        let r = registers.withLock { $0 }
        let positions = activeQueues.withLock { $0 }?.map { $0?.position }
        encoder.section("virtio-pci") { e in
            e.append(device.deviceType.rawValue)
            e.append(r.deviceFeatureSelect)
            e.append(r.driverFeatureSelect)
            e.append(r.driverFeatures)
            e.append(r.configVector)
            e.append(r.status.rawValue)
            e.append(r.queueSelect)
            e.append(r.interruptStatus)
            e.append(UInt32(r.queues.count))
            for (index, queue) in r.queues.enumerated() {
                e.append(queue.size)
                e.append(queue.vector)
                e.append(queue.enabled)
                e.append(queue.descriptorTable)
                e.append(queue.availableRing)
                e.append(queue.usedRing)
                let position = positions?[index] ?? nil
                e.append(position != nil)
                if let position {
                    e.append(position.nextAvailable)
                    e.append(position.usedIndex)
                    e.append(position.usedIndexAtLastInterrupt)
                    e.append(position.notificationsSuppressed)
                    e.append(position.isBroken)
                }
            }
            configuration.saveState(to: &e)
            msix.saveState(to: &e)
            if let deviceState { e.append(bytes: deviceState.bytes) }
        }
    }

    /// Restores registers, configuration space and MSI-X; a device the driver had made
    /// ready is activated on its queues at their saved positions.
    public func restoreState(from decoder: inout StateDecoder) throws(VMMError) {
        let maximumSizes = device.queueMaximumSizes
        let deviceType = device.deviceType
        let (restored, positions) = try decoder.section("virtio-pci") {
            (d) throws(VMMError) -> (VirtioPCIRegisters, [Virtqueue.Position?]) in
            let savedType = try d.read(UInt16.self)
            guard savedType == deviceType.rawValue else {
                throw d.malformed("a virtio device of type \(savedType) where this machine has \(deviceType)")
            }
            var r = VirtioPCIRegisters(maximumSizes: maximumSizes)
            r.deviceFeatureSelect = try d.read(UInt32.self)
            r.driverFeatureSelect = try d.read(UInt32.self)
            r.driverFeatures = try d.read(UInt64.self)
            r.configVector = try d.read(UInt16.self)
            r.status = VirtioStatus(rawValue: try d.read(UInt8.self))
            r.queueSelect = try d.read(UInt16.self)
            r.interruptStatus = try d.read(UInt8.self)
            let count = Int(try d.read(UInt32.self))
            guard count == maximumSizes.count else { throw d.malformed("\(count) queues, the device has \(maximumSizes.count)") }
            var positions: [Virtqueue.Position?] = []
            for index in 0..<count {
                r.queues[index].size = try d.read(UInt16.self)
                r.queues[index].vector = try d.read(UInt16.self)
                r.queues[index].enabled = try d.readBool()
                r.queues[index].descriptorTable = try d.read(UInt64.self)
                r.queues[index].availableRing = try d.read(UInt64.self)
                r.queues[index].usedRing = try d.read(UInt64.self)
                guard try d.readBool() else {
                    positions.append(nil)
                    continue
                }
                positions.append(Virtqueue.Position(
                    nextAvailable: try d.read(UInt16.self), usedIndex: try d.read(UInt16.self),
                    usedIndexAtLastInterrupt: try d.read(UInt16.self), notificationsSuppressed: try d.readBool(),
                    isBroken: try d.readBool()))
            }
            try configuration.restoreState(from: &d)
            try msix.restoreState(from: &d)
            if let device = device as? any Snapshottable {
                var inner = StateDecoder(try d.readBytes(), context: "virtio \(deviceType)")
                try device.restoreState(from: &inner)
                guard inner.isAtEnd else { throw inner.malformed("bytes after the device's state") }
            }
            return (r, positions)
        }
        registers.withLock { $0 = restored }
        guard restored.status.contains(.driverOK), !restored.status.contains(.deviceNeedsReset) else { return }
        var queues: [Virtqueue?] = []
        for (index, settings) in restored.queues.enumerated() {
            guard settings.enabled, let position = positions[index] else {
                queues.append(nil)
                continue
            }
            do {
                let queue = try Virtqueue(
                    layout: settings.layout, maximumSize: maximumSizes[index], memory: memory,
                    eventIndex: restored.driverFeatures & VirtioFeature.eventIndex != 0,
                    indirectDescriptors: restored.driverFeatures & VirtioFeature.indirectDescriptors != 0)
                queue.position = position
                queues.append(queue)
            } catch {
                throw decoder.malformed("virtio \(deviceType) queue \(index): \(error)")
            }
        }
        lifecycle.withLock { _ in start(queues: queues, features: restored.driverFeatures) }
    }
}
