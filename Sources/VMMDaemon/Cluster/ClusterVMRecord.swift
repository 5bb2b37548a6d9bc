import VMMAPI

/// The value of `vmm/vms/NAME` (docs/cluster.md, section 1): a VM of the cluster, defined
/// once across all hosts, and the host it is assigned to (where it runs when it runs).
struct ClusterVMRecord: Codable, Equatable, Sendable {
    var definition: VMDefinition
    /// The host that keeps the definition and starts the VM.
    var host: String
}
