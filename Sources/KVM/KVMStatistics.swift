#if canImport(Glibc)
import Glibc
#endif
import CKVM

/// The host kernel's statistics of one vCPU or VM (`KVM_GET_STATS_FD`, Linux 5.14 and
/// later): counters such as exits, emulated instructions, injected interrupts and time
/// spent halted, under the names the kernel gives them (they vary by kernel and
/// architecture; see the kernel's Documentation/virt/kvm/api.rst).
///
/// The layout is read once; `values()` then reads every number with one `pread`.
/// Histograms are left out: only single-value statistics are offered.
public final class KVMStatistics: Sendable {
    /// One statistic: its name and where its value sits in the data block.
    struct Field: Sendable {
        let name: String
        let offset: Int
    }

    private let fd: Int32
    private let fields: [Field]
    private let dataOffset: Int
    private let dataSize: Int

    /// Reasonable bounds for what the kernel reports; anything outside is not trusted.
    private static let maximumFields = 4096
    private static let maximumNameSize = 1024
    private static let headerSize = 24
    private static let descriptorHeaderSize = 16
    /// `KVM_STATS_TYPE_MASK`'s histogram types (linear, logarithmic).
    private static let histogramTypes: ClosedRange<UInt32> = 3...4

    /// Takes ownership of `fd`, a descriptor `KVM_GET_STATS_FD` returned, and reads its layout.
    init(fd: Int32) throws(KVMError) {
        do throws(KVMError) {
            (fields, dataOffset, dataSize) = try Self.readLayout(fd)
        } catch {
            Syscall.close(fd)
            throw error
        }
        self.fd = fd
    }

    deinit {
        Syscall.close(fd)
    }

    /// Every single-value statistic now, in the kernel's order.
    public func values() throws(KVMError) -> [(name: String, value: UInt64)] {
        let data = try Self.read(fd, count: dataSize, at: dataOffset)
        return fields.map { field in
            (field.name, data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: field.offset, as: UInt64.self) })
        }
    }

    private static func readLayout(_ fd: Int32) throws(KVMError) -> ([Field], Int, Int) {
        let header = try read(fd, count: headerSize, at: 0)
        let word = { (index: Int) in
            Int(header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self) })
        }
        let (nameSize, count, descriptorsOffset, dataOffset) = (word(1), word(2), word(4), word(5))
        guard count <= maximumFields, nameSize <= maximumNameSize else {
            throw malformed("\(count) statistics with names of \(nameSize) bytes")
        }
        let descriptorSize = descriptorHeaderSize + nameSize
        let descriptors = try read(fd, count: descriptorSize * count, at: descriptorsOffset)
        var fields: [Field] = []
        var dataSize = 0
        for index in 0..<count {
            let base = index * descriptorSize
            let (flags, size, offset) = descriptors.withUnsafeBytes { bytes in
                (bytes.loadUnaligned(fromByteOffset: base, as: UInt32.self),
                 Int(bytes.loadUnaligned(fromByteOffset: base + 6, as: UInt16.self)),
                 Int(bytes.loadUnaligned(fromByteOffset: base + 8, as: UInt32.self)))
            }
            guard size >= 1, offset <= Int(Int32.max) else { throw malformed("statistic \(index) at \(offset)") }
            dataSize = max(dataSize, offset + size * 8)
            guard size == 1, !histogramTypes.contains(flags & 0xf) else { continue }
            let nameBytes = descriptors[(base + descriptorHeaderSize)..<(base + descriptorSize)]
            let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
            fields.append(Field(name: name, offset: offset))
        }
        return (fields, dataOffset, dataSize)
    }

    private static func read(_ fd: Int32, count: Int, at offset: Int) throws(KVMError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let outcome = bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(KVMError) in try Syscall.pread(fd, into: buffer, offset: offset, "read KVM statistics") }
        }
        let got = try outcome.get()
        guard got == count else { throw malformed("\(got) of \(count) bytes at \(offset)") }
        return bytes
    }

    private static func malformed(_ what: String) -> KVMError {
        KVMError(operation: "read KVM statistics", code: EINVAL,
                 explanation: "the host kernel's KVM statistics are not laid out as expected: \(what)")
    }
}
