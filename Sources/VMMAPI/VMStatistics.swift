/// The host kernel's counters of a running VM (`GET /v1/vms/{name}/stats`): the VM's own
/// and each vCPU's, under the names KVM gives them (`exits`, `insn_emulation`,
/// `irq_injections`, `halt_exits`, `remote_tlb_flush`, ...), since the VM's current boot.
/// Which names there are depends on the host kernel and CPU.
public struct VMStatistics: Codable, Equatable, Sendable {
    public struct VCPU: Codable, Equatable, Sendable {
        public var id: Int
        public var counters: [String: UInt64]

        public init(id: Int, counters: [String: UInt64]) {
            self.id = id
            self.counters = counters
        }
    }

    public var vm: [String: UInt64]
    public var vcpus: [VCPU]

    public init(vm: [String: UInt64], vcpus: [VCPU]) {
        self.vm = vm
        self.vcpus = vcpus
    }
}
