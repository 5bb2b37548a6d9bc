#if canImport(Glibc)
import Glibc
#endif

extension BlockImage {
    public func read(into buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws(VMMError) {
        let vectors = buffers.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
        try transfer(vectors, at: offset, what: "read") { fd, vectors, count, offset in
            preadv(fd, vectors, count, offset)
        }
    }

    public func write(from buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(VMMError) {
        let vectors = buffers.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
        try transfer(vectors, at: offset, what: "write") { fd, vectors, count, offset in
            pwritev(fd, vectors, count, offset)
        }
    }

    /// Linux's UIO_MAXIOV; Swift's Glibc module does not carry IOV_MAX.
    private static let vectorLimit = 1024

    /// Moves the bytes of `vectors` straight between guest memory and the image, resuming
    /// after short transfers and EINTR. Reading past the end (the file shrank under us)
    /// is an I/O error rather than silent zeros.
    private func transfer(
        _ vectors: [iovec], at offset: UInt64, what: String,
        _ call: (Int32, UnsafePointer<iovec>, Int32, off_t) -> Int
    ) throws(VMMError) {
        var vectors = vectors.filter { $0.iov_len > 0 }
        var first = 0
        var position = offset
        while first < vectors.count {
            let count = Int32(min(vectors.count - first, Self.vectorLimit))
            let done = vectors.withUnsafeBufferPointer { call(fileDescriptor, $0.baseAddress! + first, count, off_t(position)) }
            if done < 0 {
                if errno == EINTR { continue }
                throw .system("\(what) of disk image \(path) at byte \(position)", errno)
            }
            guard done > 0 else { throw .system("\(what) of disk image \(path) at byte \(position)", EIO) }
            position += UInt64(done)
            var left = done
            while left > 0 && left >= vectors[first].iov_len {
                left -= vectors[first].iov_len
                first += 1
            }
            if left > 0 {
                vectors[first].iov_base += left
                vectors[first].iov_len -= left
            }
        }
    }
}
