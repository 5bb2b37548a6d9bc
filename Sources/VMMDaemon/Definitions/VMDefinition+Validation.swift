import DeviceOptions
import Glibc
import VMMAPI

extension VMDefinition {
    /// The smallest guest RAM a definition may ask for.
    static let minimumMemory: UInt64 = 2 << 20

    /// Throws a 422 error naming the first field that cannot work (a 400 for a disk or NIC
    /// value vmm's own options would refuse). Kernel, initrd and disk images must be
    /// absolute paths of readable files now, so a typo shows at create time, not at start.
    func validate() throws {
        guard VMDefinition.isValidName(name) else { throw APIError.invalidName(name) }
        guard cpus >= 1 else { throw APIError(code: .invalidDefinition, message: "cpus must be at least 1, not \(cpus)") }
        guard memory >= VMDefinition.minimumMemory else {
            throw APIError(code: .invalidDefinition, message: "memory must be at least 2 MiB (\(VMDefinition.minimumMemory) bytes), not \(memory)")
        }
        guard VMDefinition.haPriorityRange.contains(haPriority) else {
            throw APIError(
                code: .invalidDefinition,
                message: "haPriority must be \(VMDefinition.haPriorityRange.lowerBound) to \(VMDefinition.haPriorityRange.upperBound)"
                    + " (higher restarts first), not \(haPriority)")
        }
        try VMDefinition.validateFile(kernel, field: "kernel")
        if let initrd { try VMDefinition.validateFile(initrd, field: "initrd") }
        try validateDevices()
        if let limits { try Self.validate(limits) }
        if let balloon {
            do {
                try BalloonOption.checkTarget(balloon.target, memorySize: memory, field: "balloon.target")
            } catch {
                throw APIError(code: .invalidDefinition, message: error.message)
            }
        }
    }

    private static func validate(_ limits: VMLimits) throws {
        if let cpus = limits.cpus, !(cpus.isFinite && cpus >= 0.01 && cpus <= VMLimits.maximumCPUs) {
            throw APIError(
                code: .invalidDefinition,
                message: "limits.cpus must be a number of CPUs from 0.01 to \(Int(VMLimits.maximumCPUs)), not \(cpus); leave it out for no cap")
        }
        if let weight = limits.cpuWeight, !VMLimits.cpuWeightRange.contains(weight) {
            throw APIError(
                code: .invalidDefinition,
                message: "limits.cpuWeight must be from 1 to 10000 (100 is the default share), not \(weight)")
        }
    }

    private static func validateFile(_ path: String, field: String) throws {
        guard path.hasPrefix("/") else {
            throw APIError(code: .invalidDefinition, message: "\(field) must be an absolute path, not \(path)")
        }
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(path, R_OK) == 0 else {
            throw APIError(code: .invalidDefinition, message: "\(field) \(path) is not a readable file")
        }
    }

    /// This definition with the patch's fields applied; an empty `initrd` removes it.
    func applying(_ patch: VMDefinitionPatch) -> VMDefinition {
        var result = self
        if let cpus = patch.cpus { result.cpus = cpus }
        if let memory = patch.memory { result.memory = memory }
        if let kernel = patch.kernel { result.kernel = kernel }
        if let initrd = patch.initrd { result.initrd = initrd.isEmpty ? nil : initrd }
        if let cmdline = patch.cmdline { result.cmdline = cmdline }
        if let autostart = patch.autostart { result.autostart = autostart }
        if let disks = patch.disks { result.disks = disks }
        if let networks = patch.networks { result.networks = networks }
        if let rng = patch.rng { result.rng = rng }
        if let ha = patch.ha { result.ha = ha }
        if let haPriority = patch.haPriority { result.haPriority = haPriority }
        if let mergePages = patch.mergePages { result.mergePages = mergePages }
        if let limits = patch.limits { result.limits = limits == VMLimits() ? nil : limits }
        if let change = patch.balloon {
            var balloon = result.balloon ?? VMBalloon()
            if let target = change.target { balloon.target = target }
            if let deflateOnOOM = change.deflateOnOOM { balloon.deflateOnOOM = deflateOnOOM }
            if let freePageReporting = change.freePageReporting { balloon.freePageReporting = freePageReporting }
            result.balloon = balloon
        }
        return result
    }
}
