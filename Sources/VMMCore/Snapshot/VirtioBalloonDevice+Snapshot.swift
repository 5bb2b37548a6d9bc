/// The balloon's own state travels inside its transport's section (`VirtioPCIDevice`):
/// target and actual size, the statistics buffer it holds, the last report, the counters.
extension VirtioBalloonDevice: Snapshottable {
    public func saveState(to encoder: inout StateEncoder) {
        let status = self.status
        encoder.section("virtio-balloon") { e in
            e.append(status.targetPages)
            e.append(status.actualPages)
            e.append(status.heldStatisticsBuffer != nil)
            e.append(status.heldStatisticsBuffer ?? 0)
            let values = status.statistics?.values.sorted { $0.key < $1.key } ?? []
            e.append(status.statistics != nil)
            e.append(UInt32(values.count))
            for (tag, value) in values {
                e.append(tag)
                e.append(value)
            }
            e.append(status.inflatedBytes)
            e.append(status.reportedBytes)
            e.append(status.deflatedPages)
            e.append(status.refusedPages)
        }
    }

    /// Runs before the transport activates the device again, which then keeps the
    /// statistics buffer the guest's driver is waiting on.
    public func restoreState(from decoder: inout StateDecoder) throws(VMMError) {
        let restored = try decoder.section("virtio-balloon") { (d) throws(VMMError) -> BalloonStatus in
            var status = BalloonStatus()
            status.targetPages = try d.read(UInt32.self)
            status.actualPages = try d.read(UInt32.self)
            let holdsBuffer = try d.readBool()
            let head = try d.read(UInt16.self)
            status.heldStatisticsBuffer = holdsBuffer ? head : nil
            let hasStatistics = try d.readBool()
            let count = Int(try d.read(UInt32.self))
            guard count <= BalloonStatistics.names.count else { throw d.malformed("\(count) balloon statistics") }
            var values: [UInt16: UInt64] = [:]
            for _ in 0..<count { values[try d.read(UInt16.self)] = try d.read(UInt64.self) }
            status.statistics = hasStatistics ? BalloonStatistics(values: values) : nil
            status.statisticsTime = hasStatistics ? MonotonicClock.now : nil
            status.inflatedBytes = try d.read(UInt64.self)
            status.reportedBytes = try d.read(UInt64.self)
            status.deflatedPages = try d.read(UInt64.self)
            status.refusedPages = try d.read(UInt64.self)
            return status
        }
        guard UInt64(restored.targetPages) * GuestMemory.pageSize <= memorySize else {
            throw decoder.malformed("a balloon target of \(restored.targetPages) pages in \(memorySize) bytes of RAM")
        }
        ledger.withLock { $0 = restored }
    }
}
