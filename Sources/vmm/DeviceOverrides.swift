import VMMCore

/// The `--disk` and `--net` options of `vmm restore` and `vmm receive`: this side's disks
/// and NICs in place of the recorded ones, all of them in order, or none; and `vmm
/// receive`'s `--kernel` and `--initrd`, this side's files in place of the source's.
struct DeviceOverrides: Sendable {
    let disks: [DiskConfiguration]
    let networks: [NetworkConfiguration]
    /// Names the machine in messages ("the snapshot", "the VM").
    let owner: String
    let kernelPath: String?
    let initrdPath: String?

    init(
        disks: [DiskConfiguration], networks: [NetworkConfiguration], of owner: String, kernelPath: String? = nil,
        initrdPath: String? = nil
    ) {
        self.disks = disks
        self.networks = networks
        self.owner = owner
        self.kernelPath = kernelPath
        self.initrdPath = initrdPath
    }

    func apply(to configuration: MachineConfiguration) throws(VMMError) -> MachineConfiguration {
        var configuration = configuration
        if let kernelPath { configuration.kernelPath = kernelPath }
        if let initrdPath { configuration.initrdPath = initrdPath }
        configuration.disks = try replacing(configuration.disks, with: disks, device: "disk", option: "--disk")
        configuration.networks = try replacing(configuration.networks, with: networks, device: "NIC", option: "--net")
        return configuration
    }

    private func replacing<Device>(
        _ current: [Device], with given: [Device], device: String, option: String
    ) throws(VMMError) -> [Device] {
        guard !given.isEmpty else { return current }
        guard given.count == current.count else {
            throw .invalidConfiguration(
                "\(owner) has \(current.count) \(device)s but \(given.count) \(option) options were given: "
                    + "give one per \(device), in order, or none")
        }
        return given
    }
}
