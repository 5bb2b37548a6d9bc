#if canImport(Glibc)
import Glibc
#endif

/// What a snapshot says about the machine it holds: enough to build an identical empty
/// machine (devices in the same slots, the same RAM size) before the state is poured in.
public struct SnapshotDescription: Sendable {
    public var configuration: MachineConfiguration
    /// Disks and their contents were left out (Firecracker's "diff-less" memory snapshot):
    /// the restored guest uses its disk images as they are when it is restored.
    public var memoryOnly: Bool
    /// For each disk in `configuration.disks`: the copy in the snapshot folder, or nil
    /// (read-only disks are referenced, not copied; nothing is copied with `memoryOnly`).
    public var diskCopies: [String?]
    /// Seconds since the epoch when the snapshot was taken.
    public var created: Int64
    /// What vmm added to a Linux kernel's command line (PVM workarounds): a guest reboot
    /// after a restore gets the same without probing the host again.
    public var kernelParameters: [String] = []

    public init(
        configuration: MachineConfiguration, memoryOnly: Bool, diskCopies: [String?] = [], created: Int64
    ) {
        self.configuration = configuration
        self.memoryOnly = memoryOnly
        self.diskCopies = diskCopies
        self.created = created
    }

    func encode(to encoder: inout StateEncoder) {
        let c = configuration
        encoder.section("machine") { e in
            e.append(c.kernelPath)
            e.append(c.initrdPath ?? "")
            e.append(c.commandLine)
            e.append(UInt32(c.cpuCount))
            e.append(c.memorySize)
            e.append(c.cpuFeatures.hidden.sorted().joined(separator: ","))
            e.append(c.cpuFeatures.shown.sorted().joined(separator: ","))
            e.append(c.hasPIT)
            e.append(c.hasEntropyDevice)
            e.append(UInt32(c.disks.count))
            for (disk, copy) in zip(c.disks, diskCopies) {
                e.append(disk.path)
                e.append(disk.readOnly)
                e.append(copy ?? "")
            }
            e.append(UInt32(c.networks.count))
            for network in c.networks {
                e.append(network.tapName ?? "")
                e.append(bytes: network.macAddress?.array ?? [])
            }
            e.append(memoryOnly)
            e.append(bytes: c.generationID)
            e.append(created)
            e.append(kernelParameters.joined(separator: " "))
            e.append(c.balloon != nil)
            if let balloon = c.balloon {
                e.append(balloon.target)
                e.append(balloon.deflateOnOOM)
                e.append(balloon.freePageReporting)
                e.append(balloon.statisticsInterval)
            }
        }
    }

    static func decode(from decoder: inout StateDecoder) throws(VMMError) -> SnapshotDescription {
        try decoder.section("machine") { (d) throws(VMMError) -> SnapshotDescription in
            let kernel = try d.readString()
            let initrd = try d.readString()
            var c = MachineConfiguration(kernelPath: kernel, initrdPath: initrd.isEmpty ? nil : initrd)
            c.commandLine = try d.readString()
            c.cpuCount = Int(try d.read(UInt32.self))
            c.memorySize = try d.read(UInt64.self)
            c.cpuFeatures.hidden = Set(try d.readString().split(separator: ",").map(String.init))
            c.cpuFeatures.shown = Set(try d.readString().split(separator: ",").map(String.init))
            c.hasPIT = try d.readBool()
            c.hasEntropyDevice = try d.readBool()
            guard (1...1024).contains(c.cpuCount), c.memorySize >= GuestMemoryMap.minimumSize else {
                throw d.malformed("\(c.cpuCount) vCPUs and \(c.memorySize) bytes of RAM")
            }
            var copies: [String?] = []
            let diskCount = Int(try d.read(UInt32.self))
            guard diskCount <= PCIBus.maximumDeviceCount else { throw d.malformed("\(diskCount) disks") }
            for _ in 0..<diskCount {
                c.disks.append(DiskConfiguration(path: try d.readString(), readOnly: try d.readBool()))
                let copy = try d.readString()
                guard copy.isEmpty || (!copy.contains("/") && copy != ".." && copy != ".") else {
                    throw d.malformed("disk copy name '\(copy)'")
                }
                copies.append(copy.isEmpty ? nil : copy)
            }
            let networkCount = Int(try d.read(UInt32.self))
            guard networkCount <= PCIBus.maximumDeviceCount else { throw d.malformed("\(networkCount) NICs") }
            for _ in 0..<networkCount {
                let tap = try d.readString()
                let mac = try d.readBytes()
                guard mac.isEmpty || mac.count == 6 else { throw d.malformed("a MAC address of \(mac.count) bytes") }
                c.networks.append(NetworkConfiguration(
                    tapName: tap.isEmpty ? nil : tap,
                    macAddress: mac.count == 6 ? MACAddress(mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]) : nil))
            }
            let memoryOnly = try d.readBool()
            c.generationID = try d.readBytes()
            guard c.generationID.count == 16 else { throw d.malformed("a generation ID of \(c.generationID.count) bytes") }
            var description = SnapshotDescription(
                configuration: c, memoryOnly: memoryOnly, diskCopies: copies, created: try d.read(Int64.self))
            description.kernelParameters = try d.readString().split(separator: " ").map(String.init)
            if try d.readBool() {
                let balloon = BalloonConfiguration(
                    target: try d.read(UInt64.self), deflateOnOOM: try d.readBool(), freePageReporting: try d.readBool(),
                    statisticsInterval: try d.read(UInt32.self))
                guard balloon.target <= c.memorySize else { throw d.malformed("a balloon larger than the RAM") }
                description.configuration.balloon = balloon
            }
            return description
        }
    }
}
