import KVM

/// What the host kernel counts for this machine (`KVMStatistics`).
extension Machine {
    /// Statistics by name, as the kernel names them.
    public typealias StatisticValues = [(name: String, value: UInt64)]

    /// The VM's statistics and each vCPU's (in vCPU order). The VM's descriptor is opened
    /// on the first call; each vCPU's was opened with the vCPU (see `VCPUThread`).
    public func statistics() throws(KVMError) -> (vm: StatisticValues, vcpus: [StatisticValues]) {
        let vmStatistics = try vmStatisticsFile.withLock { (file) throws(KVMError) -> KVMStatistics in
            if let file { return file }
            let opened = try vm.openStatistics()
            file = opened
            return opened
        }
        return (try vmStatistics.values(), try vcpus.map { (thread) throws(KVMError) in try thread.statistics.get().values() })
    }
}
