import KVM

/// Which guest pages changed while the guest ran: KVM's dirty log for what the vCPUs
/// wrote, the device write log for what vmm's device threads wrote. A snapshot copies
/// memory while the guest runs and pauses it only for the last changes; live migration
/// will use the same rounds.
extension Machine {
    public func startDirtyTracking() throws(VMMError) {
        memory.deviceWrites.start()
        try setDirtyLogging(true)
        // Requests already in flight got their buffers before the device log started:
        // let them finish, so every later device write is one the log saw.
        devices.quiesce()
        devices.resumeAfterQuiesce()
    }

    public func stopDirtyTracking() {
        try? setDirtyLogging(false)
        memory.deviceWrites.stop()
    }

    /// The pages (memfd offsets) written since tracking started or since the last call.
    public func takeDirtyRanges() throws(VMMError) -> [Range<UInt64>] {
        var ranges = memory.deviceWrites.take()
        for (slot, region) in memory.regions.enumerated() {
            let pageCount = Int(region.size / DeviceWriteLog.pageSize)
            let bitmap = try VMMError.kvm { () throws(KVMError) in try vm.dirtyLog(slot: UInt32(slot), pageCount: pageCount) }
            ranges += DeviceWriteLog.ranges(bitmap: bitmap, base: region.offset)
        }
        return GuestMemory.merge(ranges)
    }

    /// The used rings of the active virtqueues: written through pointers kept since the
    /// driver set the device up, so neither log sees them. Copied in the last pass.
    func virtqueueUsedRings() -> [Range<UInt64>] {
        devices.virtioDevices.flatMap { device in
            (device.activeQueues.withLock { $0 } ?? []).compactMap { queue -> Range<UInt64>? in
                guard let layout = queue?.layout else { return nil }
                return memory.fileOffsets(of: layout.usedRing, count: 6 + 8 * Int(layout.size))
            }
        }
    }

    private func setDirtyLogging(_ enabled: Bool) throws(VMMError) {
        try VMMError.kvm { () throws(KVMError) in
            for (slot, region) in memory.regions.enumerated() {
                try vm.setMemoryRegion(
                    slot: UInt32(slot), guestAddress: region.guestAddress, size: region.size,
                    hostAddress: memory.base + Int(region.offset), logDirtyPages: enabled)
            }
        }
    }
}
