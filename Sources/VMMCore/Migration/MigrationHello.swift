import CKVM

/// The `hello` frame: what the destination needs to decide whether it can run the VM
/// before any memory is sent.
public struct MigrationHello: Sendable {
    static let magic: [UInt8] = Array("VMMMIGR1".utf8)
    /// Raised whenever the stream's frames change meaning.
    static let streamVersion: UInt32 = 1

    public var description: SnapshotDescription
    /// The CPUID table vCPU 0 was offered: the destination refuses a VM whose vCPUs use a
    /// feature its host cannot offer.
    var cpuid: [kvm_cpuid_entry2]
    /// Each disk's size in bytes, so copy-storage can check the destination's images.
    public var diskSizes: [UInt64]
    public var copyStorage: Bool

    func encoded() -> [UInt8] {
        var encoder = StateEncoder()
        encoder.append(Self.streamVersion)
        encoder.append(SnapshotFormat.version)
        description.encode(to: &encoder)
        encoder.append(UInt32(cpuid.count))
        for entry in cpuid { encoder.appendRaw(entry) }
        encoder.append(UInt32(diskSizes.count))
        for size in diskSizes { encoder.append(size) }
        encoder.append(copyStorage)
        return Self.magic + encoder.bytes
    }

    init(description: SnapshotDescription, cpuid: [kvm_cpuid_entry2], diskSizes: [UInt64], copyStorage: Bool) {
        self.description = description
        self.cpuid = cpuid
        self.diskSizes = diskSizes
        self.copyStorage = copyStorage
    }

    /// Parses a peer's hello; anything unexpected is refused with the reason.
    init(decoding payload: [UInt8]) throws(VMMError) {
        guard payload.count >= Self.magic.count, Array(payload.prefix(Self.magic.count)) == Self.magic else {
            throw .invalidSnapshot("the peer is not a vmm migration source (no VMMMIGR1 hello)")
        }
        var decoder = StateDecoder(Array(payload.dropFirst(Self.magic.count)), context: "hello")
        let stream = try decoder.read(UInt32.self), format = try decoder.read(UInt32.self)
        guard stream == Self.streamVersion, format == SnapshotFormat.version else {
            throw .invalidSnapshot(
                "the source speaks migration stream \(stream) with state format \(format); this vmm speaks "
                    + "\(Self.streamVersion) with \(SnapshotFormat.version): migrate between the same vmm versions")
        }
        description = try SnapshotDescription.decode(from: &decoder)
        let entries = Int(try decoder.read(UInt32.self))
        guard entries <= 256 else { throw decoder.malformed("\(entries) CPUID entries") }
        cpuid = []
        for _ in 0..<entries { cpuid.append(try decoder.readRaw(kvm_cpuid_entry2.self)) }
        let disks = Int(try decoder.read(UInt32.self))
        guard disks == description.configuration.disks.count else {
            throw decoder.malformed("\(disks) disk sizes for \(description.configuration.disks.count) disks")
        }
        diskSizes = []
        for _ in 0..<disks { diskSizes.append(try decoder.read(UInt64.self)) }
        copyStorage = try decoder.readBool()
        guard decoder.isAtEnd else { throw decoder.malformed("bytes after the hello") }
    }
}
