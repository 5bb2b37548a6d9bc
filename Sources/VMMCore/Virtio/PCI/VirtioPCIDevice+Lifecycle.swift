/// Device status transitions: feature negotiation, activation at DRIVER_OK, reset.
extension VirtioPCIDevice {
    func writeStatus(_ requested: VirtioStatus) {
        lifecycle.withLock { _ in
            if requested.isEmpty {
                reset()
                return
            }
            let (previous, accepted) = registers.withLock { registers -> (VirtioStatus, VirtioStatus) in
                let previous = registers.status
                var accepted = requested
                if requested.contains(.featuresOK) && !previous.contains(.featuresOK)
                    && !featuresAcceptable(registers.driverFeatures)
                {
                    // The driver sees FEATURES_OK did not stick and gives up (virtio 1.x §3.1.1).
                    accepted.remove(.featuresOK)
                }
                // NEEDS_RESET is the device's to set; only a reset clears it.
                accepted.remove(.deviceNeedsReset)
                accepted.formUnion(previous.intersection(.deviceNeedsReset))
                registers.status = accepted
                return (previous, accepted)
            }
            if accepted.contains(.driverOK) && !previous.contains(.driverOK) && accepted.contains(.featuresOK) {
                activate()
            }
        }
    }

    private func featuresAcceptable(_ driverFeatures: UInt64) -> Bool {
        driverFeatures & ~offeredFeatures == 0 && driverFeatures & VirtioFeature.version1 != 0
    }

    private func activate() {
        let (features, queueSettings) = registers.withLock { ($0.driverFeatures, $0.queues) }
        var queues: [Virtqueue?] = []
        for (index, settings) in queueSettings.enumerated() {
            guard settings.enabled else {
                queues.append(nil)
                continue
            }
            do {
                queues.append(try Virtqueue(
                    layout: settings.layout, maximumSize: device.queueMaximumSizes[index], memory: memory,
                    eventIndex: features & VirtioFeature.eventIndex != 0,
                    indirectDescriptors: features & VirtioFeature.indirectDescriptors != 0))
            } catch {
                needsReset("queue \(index): \(error)")
                return
            }
        }
        start(queues: queues, features: features)
    }

    /// Hands the device its queues and starts it; callers hold `lifecycle`. Each queue is
    /// kicked once, so requests the driver made available while the device was not
    /// running (before a snapshot resumes, or restored from one) are served.
    func start(queues: [Virtqueue?], features: UInt64) {
        activeQueues.withLock { $0 = queues }
        let activation = VirtioActivation(
            memory: memory, features: features, queues: queues, notifiers: notifiers,
            interrupt: VirtioPCIInterrupt(transport: self),
            deviceNeedsReset: { [weak self] reason in self?.needsReset(reason) })
        do {
            try device.activate(activation)
            log.info("virtio \(device.deviceType): driver ready, features 0x\(String(features, radix: 16))")
        } catch {
            needsReset("activation failed: \(error)")
            return
        }
        for (index, queue) in queues.enumerated() where queue != nil { notifiers[index].signal() }
    }

    /// Stops the device, then clears the registers; the device's threads are gone before
    /// the guest can reuse the queue memory.
    private func reset() {
        device.reset()
        activeQueues.withLock { $0 = nil }
        registers.withLock { $0.reset() }
        intx.set(high: false)
    }

    /// The guest broke the protocol: tell the driver, which resets the device.
    func needsReset(_ reason: String) {
        log.warning("virtio \(device.deviceType) device needs reset: \(reason)")
        registers.withLock { $0.status.insert(.deviceNeedsReset) }
        VirtioPCIInterrupt(transport: self).signalConfigurationChange()
    }
}
