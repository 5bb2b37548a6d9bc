import Sizes
import VMMAPI

/// Admission: the daemon never promises more guest RAM or vCPUs than its policy allows.
extension VMManager {
    /// What the VMs with a `vmm` here (or one arriving) were promised.
    func commitment() -> HostCommitment {
        let committed = vms.values.filter { $0.run != nil || $0.state == .incoming }.map(\.definition)
        let policy = configuration.admission
        return HostCommitment(
            memory: committed.reduce(0) { $0 + $1.memory },
            memoryCapacity: UInt64(Double(HostProbe.memory) * policy.memoryOvercommit),
            vcpus: committed.reduce(0) { $0 + $1.cpus },
            vcpuCapacity: Int(Double(HostProbe.cpus) * policy.cpuOvercommit),
            memoryOvercommit: policy.memoryOvercommit, cpuOvercommit: policy.cpuOvercommit)
    }

    /// Refuses (409, with the numbers) to run `definition` here when it would take the
    /// host past its capacity. `action` names what was asked ("start VM web").
    func admit(_ definition: VMDefinition, to action: String) throws(APIError) {
        let now = commitment()
        var shortfalls: [String] = []
        if now.memory + definition.memory > now.memoryCapacity {
            shortfalls.append(
                "it needs \(ByteSize.format(definition.memory)) of memory and \(ByteSize.format(now.memory)) of "
                    + "\(ByteSize.format(now.memoryCapacity)) are promised already (host memory × --memory-overcommit "
                    + "\(now.memoryOvercommit))")
        }
        if now.vcpus + definition.cpus > now.vcpuCapacity {
            shortfalls.append(
                "it needs \(definition.cpus) vCPU\(definition.cpus == 1 ? "" : "s") and \(now.vcpus) of \(now.vcpuCapacity) "
                    + "are promised already (host CPUs × --cpu-overcommit \(now.cpuOvercommit))")
        }
        guard !shortfalls.isEmpty else { return }
        throw APIError(
            code: .conflict,
            message: "cannot \(action): \(shortfalls.joined(separator: "; ")); stop or migrate a VM away, or start vmmd "
                + "with a higher ratio")
    }
}
