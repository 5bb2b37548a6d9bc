import CKVM

/// A `kvm_cpuid2` with room for its entries.
///
/// `kvm_cpuid2` ends in a flexible array, which Swift imports without its entries,
/// so the header and entries share one raw allocation here.
struct CPUIDBuffer: ~Copyable {
    let raw: UnsafeMutableRawPointer
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        let size = MemoryLayout<kvm_cpuid2>.size + capacity * MemoryLayout<kvm_cpuid_entry2>.stride
        raw = .allocate(byteCount: size, alignment: 8)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        raw.assumingMemoryBound(to: kvm_cpuid2.self).pointee.nent = UInt32(capacity)
    }

    init(entries: [kvm_cpuid_entry2]) {
        self.init(capacity: entries.count)
        for (index, entry) in entries.enumerated() { entryPointer.advanced(by: index).pointee = entry }
    }

    deinit { raw.deallocate() }

    private var entryPointer: UnsafeMutablePointer<kvm_cpuid_entry2> {
        (raw + MemoryLayout<kvm_cpuid2>.size).assumingMemoryBound(to: kvm_cpuid_entry2.self)
    }

    var entries: [kvm_cpuid_entry2] {
        let count = min(Int(raw.assumingMemoryBound(to: kvm_cpuid2.self).pointee.nent), capacity)
        return Array(UnsafeBufferPointer(start: entryPointer, count: count))
    }
}
