/// A C struct that ends in a flexible array member, with room for `capacity` entries.
///
/// Swift imports such structs (`kvm_cpuid2`, `kvm_msrs`, `kvm_irq_routing`) without their
/// entries, so the header and the entries share one zeroed raw allocation here.
struct FlexibleArrayBuffer<Header, Entry>: ~Copyable {
    let raw: UnsafeMutableRawPointer
    let capacity: Int

    init(capacity: Int) {
        precondition(MemoryLayout<Header>.size % MemoryLayout<Entry>.alignment == 0)
        self.capacity = capacity
        let size = MemoryLayout<Header>.size + capacity * MemoryLayout<Entry>.stride
        raw = .allocate(byteCount: size, alignment: max(MemoryLayout<Header>.alignment, MemoryLayout<Entry>.alignment))
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
    }

    deinit { raw.deallocate() }

    var header: UnsafeMutablePointer<Header> { raw.assumingMemoryBound(to: Header.self) }

    var entries: UnsafeMutableBufferPointer<Entry> {
        UnsafeMutableBufferPointer(
            start: (raw + MemoryLayout<Header>.size).assumingMemoryBound(to: Entry.self), count: capacity)
    }
}
