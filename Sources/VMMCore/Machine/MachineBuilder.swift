import CKVM
import DeviceOptions
import KVM

/// Assembles a `Machine` from a configuration: checks the input, creates the KVM VM,
/// memory, devices and vCPUs, writes the ACPI tables and loads the kernel.
///
/// Everything the user can get wrong is checked before the KVM VM exists, so a bad
/// configuration never leaves half a machine behind.
public struct MachineBuilder: Sendable {
    public let kvm: KVMSystem
    public let log: Logger

    public init(kvm: KVMSystem, log: Logger) {
        self.kvm = kvm
        self.log = log
    }


    /// The validated inputs of a build: files read, protocol recognized.
    public struct Inputs: Sendable {
        /// The kernel to boot; nil for a restored machine whose kernel file is gone (it can
        /// run, but not reboot).
        public let kernel: [UInt8]?
        public let initrd: [UInt8]?
        /// Parameters added to a Linux kernel's command line (PVM workarounds); nil until
        /// the first boot decides them (on a PVM host that boot's VM is probed first).
        public var kernelParameters: [String]?
        /// How the kernel boots; nil for a restored or migrated machine.
        public var bootProtocol: BootLoader.BootProtocol?
        /// Disks, NICs, the entropy source and the balloon, in PCI slot order; their images and taps are
        /// already open (and locked), so a reboot reuses them.
        public let virtioDevices: [any VirtioDevice]
    }

    /// Checks the configuration and reads its files; throws user errors only.
    public func validate(_ configuration: MachineConfiguration) throws(VMMError) -> Inputs {
        let maximum = min(kvm.maximumVCPUs, ACPITables.maximumCPUCount)
        guard configuration.cpuCount >= 1 && configuration.cpuCount <= maximum else {
            throw .invalidConfiguration("--cpus \(configuration.cpuCount) is out of range: this host allows 1 to \(maximum)")
        }
        guard configuration.memorySize >= GuestMemoryMap.minimumSize else {
            throw .invalidConfiguration(
                "--memory \(configuration.memorySize) bytes is too small: at least \(GuestMemoryMap.minimumSize >> 20)M")
        }
        let kernel = try HostFile.read(configuration.kernelPath, what: "kernel")
        // Recognized now, so an unusable kernel is reported before anything exists.
        let bootProtocol = try BootLoader.detect(kernel, path: configuration.kernelPath)
        let initrd = try configuration.initrdPath.map { (path) throws(VMMError) in try HostFile.read(path, what: "initrd") }
        let needed = UInt64(kernel.count) + UInt64(initrd?.count ?? 0) + GuestMemoryMap.biosAreaEnd
        guard needed <= min(configuration.memorySize, GuestMemoryMap.mmioHoleStart) else {
            throw .invalidConfiguration(
                "--memory \(configuration.memorySize >> 20)M is too small for the kernel and initrd "
                    + "(\(needed >> 20) MiB at least): give the VM more memory")
        }
        var inputs = Inputs(kernel: kernel, initrd: initrd, virtioDevices: try openDevices(configuration))
        inputs.bootProtocol = bootProtocol
        if !KVMSystem.isPVM {
            let hidden = CPUIDPolicy.defaultHiddenFeatures(onPVMHost: false, selection: configuration.cpuFeatures)
            if !hidden.isEmpty { log.info("CPUID hides \(Self.list(hidden))") }
            inputs.kernelParameters = []
        }
        return inputs
    }

    /// On a PVM host, where KVM answers part of CPUID from the hardware: probes on the boot
    /// vCPU (configured, never run) which hidden features the guest still sees, says so,
    /// and for a Linux kernel returns the parameters that keep it off them.
    private func pvmKernelParameters(
        _ configuration: MachineConfiguration, bootProtocol: BootLoader.BootProtocol?, policy: CPUIDPolicy,
        vcpu: KVMVirtualCPU, memory: GuestMemory
    ) -> [String] {
        let workarounds: PVMWorkarounds
        do {
            workarounds = try PVMWorkarounds.probe(vcpu: vcpu, memory: memory, policy: policy)
        } catch {
            log.warning("PVM host: CPUID probe failed (\(error)); assuming no hidden feature is hidden")
            workarounds = PVMWorkarounds(visibleDespitePolicy: policy.hiddenFeatures, hidden: [])
        }
        var message = "PVM host: CPUID hides \(Self.list(workarounds.hidden))"
        if !workarounds.visibleDespitePolicy.isEmpty {
            message += "; the host shows \(Self.list(workarounds.visibleDespitePolicy)) regardless"
        }
        guard configuration.pvmWorkarounds, bootProtocol != .multiboot, bootProtocol != nil else {
            log.info(message)
            return []
        }
        let parameters = workarounds.kernelParameters(for: configuration.commandLine)
        if !parameters.isEmpty {
            message += "; added '\(parameters.joined(separator: " "))' to the kernel command line (--no-pvm-workarounds to leave it alone)"
        }
        log.info(message)
        return parameters
    }

    private static func list(_ features: Set<String>) -> String {
        features.isEmpty ? "nothing" : features.sorted().joined(separator: ", ")
    }

    /// Checks that this host can run the snapshot's vCPUs (before anything is changed for a
    /// restore, such as its disks).
    public func check(_ image: SnapshotImage) throws(VMMError) {
        try checkCPUFeatures(image.saved.vcpus.first?.cpuid ?? [], of: "the snapshot's vCPUs", fix: "restore it")
    }

    /// Refuses vCPUs that were offered CPU features this host's KVM cannot offer: the guest
    /// would use them and fault. `what` names the vCPUs, `fix` where to run them instead.
    func checkCPUFeatures(_ offered: [kvm_cpuid_entry2], of what: String, fix: String) throws(VMMError) {
        let supported = try VMMError.kvm { () throws(KVMError) in try kvm.supportedCPUID() }
        let tscDeadline = kvm.check(.tscDeadlineTimer) > 0
        for feature in CPUFeature.known {
            let find = { (entries: [kvm_cpuid_entry2]) in
                entries.first { $0.function == feature.leaf && $0.index == feature.subleaf }
            }
            guard let was = find(offered), feature.isSet(in: was) else { continue }
            // KVM emulates the TSC-deadline timer without listing it as supported.
            if feature.name == "tsc-deadline" && tscDeadline { continue }
            guard let host = find(supported), feature.isSet(in: host) else {
                throw .invalidSnapshot(
                    "\(what) used CPU feature '\(feature.name)', which this host cannot offer: "
                        + "\(fix) on a host with that feature")
            }
        }
    }

    /// Opens the devices a restore needs. The kernel is read if it is still there, for a
    /// later guest reboot.
    public func validate(restoring image: SnapshotImage, configuration: MachineConfiguration) throws(VMMError) -> Inputs {
        try validate(restoring: image.description, configuration: configuration)
    }

    /// Opens the devices for a machine `description` describes (a snapshot's or a migrating VM's).
    public func validate(restoring description: SnapshotDescription, configuration: MachineConfiguration) throws(VMMError) -> Inputs {
        let kernel = try? HostFile.read(configuration.kernelPath, what: "kernel")
        let initrd = kernel == nil ? nil : try? configuration.initrdPath.map { (path) throws(VMMError) in try HostFile.read(path, what: "initrd") }
        var inputs = Inputs(kernel: kernel, initrd: initrd, virtioDevices: try openDevices(configuration))
        inputs.kernelParameters = description.kernelParameters
        return inputs
    }

    /// Opens what the virtio devices stand on, so a missing image, a locked image or a tap
    /// that cannot be opened fails before any KVM object exists.
    private func openDevices(_ configuration: MachineConfiguration) throws(VMMError) -> [any VirtioDevice] {
        var devices: [any VirtioDevice] = []
        for disk in configuration.disks { devices.append(try VirtioBlockDevice(configuration: disk, log: log)) }
        for network in configuration.networks { devices.append(try VirtioNetworkDevice(configuration: network, log: log)) }
        if configuration.hasEntropyDevice { devices.append(VirtioEntropyDevice(log: log)) }
        if let balloon = configuration.balloon {
            do {
                try balloon.check(memorySize: configuration.memorySize)
            } catch {
                throw .invalidConfiguration(error.message)
            }
            devices.append(VirtioBalloonDevice(configuration: balloon, memorySize: configuration.memorySize, log: log))
        }
        return devices
    }

    /// Builds the machine; the virtio devices fill PCI slots 1, 2, ... in order. The first
    /// boot decides `inputs.kernelParameters`; later boots (guest reboots) reuse them.
    public func build(
        _ configuration: MachineConfiguration, inputs: inout Inputs, serialOutput: @escaping @Sendable (UInt8) -> Void
    ) throws(VMMError) -> Machine {
        guard let kernel = inputs.kernel else {
            throw .invalidConfiguration(
                "cannot boot \(configuration.kernelPath): the kernel file was missing when this VM was restored")
        }
        let memory = try GuestMemory(size: configuration.memorySize, mergeable: configuration.mergePages)
        let parts = try assemble(configuration, memory: memory, inputs: inputs, serialOutput: serialOutput)
        try VCPUSetup.writeGDT(to: memory)
        let policy = try cpuidPolicy(configuration)
        let vcpus = try createVCPUs(parts, configuration: configuration) { id in
            policy.entries(forAPICID: UInt32(id))
        } setUp: { (vcpu, cpuid) throws(KVMError) in
            try VCPUSetup.configure(vcpu, cpuid: cpuid, log: log)
        }
        let bootVCPU = vcpus[0].vcpu
        let kernelParameters = inputs.kernelParameters ?? pvmKernelParameters(
            configuration, bootProtocol: inputs.bootProtocol, policy: policy, vcpu: bootVCPU, memory: memory)
        inputs.kernelParameters = kernelParameters
        let platform = PlatformDevices.acpiPlatform(
            cpuCount: configuration.cpuCount, pciDeviceCount: inputs.virtioDevices.count)
        let tables = ACPITables.build(platform, at: GuestMemoryMap.acpiTablesStart)
        try memory.write(tables.bytes, at: GuestMemoryMap.acpiTablesStart)
        try memory.write(MPTable.encode(platform, at: GuestMemoryMap.mpTableAddress), at: GuestMemoryMap.mpTableAddress)
        try memory.write(configuration.generationID, at: GuestMemoryMap.generationIDAddress)
        let commandLine = ([configuration.commandLine] + kernelParameters).filter { !$0.isEmpty }.joined(separator: " ")
        let entry = try BootLoader.load(BootContext(
            kernel: kernel, kernelPath: configuration.kernelPath, initrd: inputs.initrd,
            commandLine: commandLine, memory: memory,
            e820: GuestMemoryMap.e820(size: configuration.memorySize), rsdpAddress: tables.rsdpAddress))
        try VMMError.kvm { () throws(KVMError) in try VCPUSetup.enter(bootVCPU, at: entry) }
        return parts.machine(vcpus: vcpus, log: log)
    }

    /// Builds the machine a snapshot describes, its RAM mapped copy-on-write from the
    /// snapshot, and restores its state; its vCPUs start where the snapshot left them.
    public func restore(
        _ image: SnapshotImage, configuration: MachineConfiguration, inputs: Inputs, catchUpClock: Bool = false,
        serialOutput: @escaping @Sendable (UInt8) -> Void
    ) throws(VMMError) -> Machine {
        let memory = try image.openMemory()
        if configuration.mergePages { try memory.allowMerging() }
        return try restore(
            image.saved, memory: memory, configuration: configuration, inputs: inputs,
            catchUpClock: catchUpClock, serialOutput: serialOutput)
    }

    /// Builds the machine that migrated here, in the memory the stream filled; its clock
    /// goes on by the time the migration paused it.
    public func restore(
        _ incoming: MigrationReceiver.Incoming, inputs: Inputs, serialOutput: @escaping @Sendable (UInt8) -> Void
    ) throws(VMMError) -> Machine {
        try restore(
            incoming.saved, memory: incoming.memory, configuration: incoming.configuration, inputs: inputs,
            catchUpClock: true, serialOutput: serialOutput)
    }

    private func restore(
        _ saved: SavedMachineState, memory: GuestMemory, configuration: MachineConfiguration, inputs: Inputs,
        catchUpClock: Bool, serialOutput: @escaping @Sendable (UInt8) -> Void
    ) throws(VMMError) -> Machine {
        let parts = try assemble(configuration, memory: memory, inputs: inputs, serialOutput: serialOutput)
        // The CPUID the guest was offered travels with the snapshot (the host's own table
        // may differ, and on PVM hosts KVM_GET_CPUID2 does not return what was set).
        let vcpus = try createVCPUs(parts, configuration: configuration) { id in
            saved.vcpus[id].cpuid
        } setUp: { _, _ throws(KVMError) in }
        let machine = parts.machine(vcpus: vcpus, log: log)
        try machine.restoreState(saved, catchUpClock: catchUpClock, log: log)
        if configuration.generationID != saved.description.configuration.generationID {
            // A clone: the guest learns its new identity through VMGENID's notification.
            try memory.write(configuration.generationID, at: GuestMemoryMap.generationIDAddress)
            machine.devices.powerManagement.raiseGeneralPurposeEvent(ACPIPowerManagement.generationIDEvent)
            log.info("new VM generation ID \(GenerationID.format(configuration.generationID))")
        }
        return machine
    }

    /// What every machine has before its RAM is filled and its vCPUs set up.
    private struct Parts {
        let vm: KVMVirtualMachine
        let memory: GuestMemory
        let devices: PlatformDevices
        let exitLatch: MachineExitLatch
        let exited: EventNotifier

        func machine(vcpus: [VCPUThread], log: Logger) -> Machine {
            Machine(vm: vm, memory: memory, devices: devices, vcpus: vcpus, exitLatch: exitLatch, exited: exited, log: log)
        }
    }

    private func assemble(
        _ configuration: MachineConfiguration, memory: GuestMemory, inputs: Inputs,
        serialOutput: @escaping @Sendable (UInt8) -> Void
    ) throws(VMMError) -> Parts {
        // A previous boot of the same inputs (a guest reboot) may have left devices running.
        for device in inputs.virtioDevices { device.reset() }
        let pciDevices = inputs.virtioDevices.map(VirtioPCIDevice.factory)
        let vm = try VMMError.kvm { () throws(KVMError) in
            let vm = try kvm.createVirtualMachine()
            for (slot, region) in memory.regions.enumerated() {
                try vm.setMemoryRegion(
                    slot: UInt32(slot), guestAddress: region.guestAddress, size: region.size,
                    hostAddress: memory.base + Int(region.offset))
            }
            try vm.setIdentityMapAddress(GuestMemoryMap.identityMapAddress)
            try vm.setTSSAddress(GuestMemoryMap.tssAddress)
            try vm.createInterruptController()
            if configuration.hasPIT { try vm.createProgrammableIntervalTimer() }
            return vm
        }
        let router = try InterruptRouter(vm: vm, pinRoutes: PlatformDevices.interruptRouting)
        let exited = try EventNotifier()
        let exitLatch = MachineExitLatch { exited.signal() }
        let devices = try PlatformDevices(
            vm: vm, memory: memory, interruptRouter: router, configuration: configuration, pciDevices: pciDevices,
            exitLatch: exitLatch, serialOutput: serialOutput, log: log)
        return Parts(vm: vm, memory: memory, devices: devices, exitLatch: exitLatch, exited: exited)
    }

    private func cpuidPolicy(_ configuration: MachineConfiguration) throws(VMMError) -> CPUIDPolicy {
        let hidden = CPUIDPolicy.defaultHiddenFeatures(onPVMHost: KVMSystem.isPVM, selection: configuration.cpuFeatures)
        return CPUIDPolicy(
            supported: try VMMError.kvm { () throws(KVMError) in try kvm.supportedCPUID() },
            cpuCount: configuration.cpuCount, hiddenFeatures: hidden, offerTSCDeadline: kvm.check(.tscDeadlineTimer) > 0)
    }

    private func createVCPUs(
        _ parts: Parts, configuration: MachineConfiguration, cpuid: (Int) -> [kvm_cpuid_entry2],
        setUp: (KVMVirtualCPU, [kvm_cpuid_entry2]) throws(KVMError) -> Void
    ) throws(VMMError) -> [VCPUThread] {
        let handler = VCPUExitHandler(
            portBus: parts.devices.portBus, mmioBus: parts.devices.mmioBus, exitLatch: parts.exitLatch,
            mappingSize: kvm.vcpuMappingSize)
        var threads: [VCPUThread] = []
        for id in 0..<configuration.cpuCount {
            let offered = cpuid(id)
            let vcpu = try VMMError.kvm { () throws(KVMError) in
                let vcpu = try parts.vm.createVirtualCPU(id: id)
                try setUp(vcpu, offered)
                return vcpu
            }
            threads.append(try VCPUThread(vcpu: vcpu, offeredCPUID: offered, exitHandler: handler))
        }
        return threads
    }
}
