#if canImport(Glibc)
import Glibc
#endif

/// A byte table of fixed size that reads as zeros until written, in an anonymous mapping:
/// pages never written cost no memory. The buses' address → device lookups.
struct ZeroedTable: ~Copyable {
    let count: Int
    private let bytes: UnsafeMutablePointer<UInt8>

    init(count: Int) {
        guard let mapping = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapping != MAP_FAILED
        else { fatalError("mmap of a \(count)-byte lookup table failed: errno \(errno)") }
        self.count = count
        bytes = mapping.bindMemory(to: UInt8.self, capacity: count)
    }

    deinit { munmap(bytes, count) }

    @inline(__always)
    subscript(index: Int) -> UInt8 {
        get { bytes[index] }
        nonmutating set { bytes[index] = newValue }
    }
}
