import KVM
import VMMCore

extension Session {
    /// `{"vm":{..},"vcpus":[{"id":0,"counters":{..}},..]}`: the host kernel's counters of
    /// this VM and of each vCPU, under the kernel's names, since the current boot.
    func kvmStatistics() throws(ControlError) -> JSONValue {
        let (machine, _) = try currentMachine()
        do throws(KVMError) {
            let (vm, vcpus) = try machine.statistics()
            let object = { (values: Machine.StatisticValues) in
                values.map { ($0.name, JSONValue.integer(Int(clamping: $0.value))) }
            }
            return .object([
                ("vm", .object(object(vm))),
                ("vcpus", .array(vcpus.enumerated().map {
                    .object([("id", .integer($0.offset)), ("counters", .object(object($0.element)))])
                })),
            ])
        } catch {
            throw ControlError(.failed, "cannot read this VM's KVM statistics (KVM_GET_STATS_FD needs Linux 5.14 or later): \(error.description)")
        }
    }
}
