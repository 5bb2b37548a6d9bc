#if canImport(Glibc)
import Glibc
#endif
import CKVM

/// The one place the KVM module calls into libc for ioctls.
///
/// `EINTR` is retried here. (`KVM_RUN`, which a signal interrupts on purpose to bring a
/// vCPU out of the guest, calls ioctl itself in `KVMVirtualCPU.run`: the exit path.)
enum Syscall {
    @discardableResult
    static func ioctl(
        _ fd: Int32, _ request: UInt, _ name: String, _ call: (Int32, UInt) -> Int32
    ) throws(KVMError) -> Int32 {
        while true {
            let result = call(fd, request)
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            throw KVMError(operation: name, code: code)
        }
    }

    @discardableResult
    static func ioctl(_ fd: Int32, _ request: UInt, _ name: String) throws(KVMError) -> Int32 {
        try ioctl(fd, request, name) { ckvm_ioctl($0, $1) }
    }

    @discardableResult
    static func ioctl(
        _ fd: Int32, _ request: UInt, _ name: String, value: UInt
    ) throws(KVMError) -> Int32 {
        try ioctl(fd, request, name) { ckvm_ioctl_value($0, $1, value) }
    }

    @discardableResult
    static func ioctl(
        _ fd: Int32, _ request: UInt, _ name: String, pointer: UnsafeMutableRawPointer
    ) throws(KVMError) -> Int32 {
        try ioctl(fd, request, name) { ckvm_ioctl_pointer($0, $1, pointer) }
    }

    /// Calls an ioctl whose argument is a struct passed by address.
    @discardableResult
    static func ioctl<T>(
        _ fd: Int32, _ request: UInt, _ name: String, argument: inout T
    ) throws(KVMError) -> Int32 {
        // withUnsafeMutablePointer cannot carry a typed throw; report through a result.
        var outcome: Result<Int32, KVMError> = .success(0)
        withUnsafeMutablePointer(to: &argument) { pointer in
            do throws(KVMError) {
                outcome = .success(try ioctl(fd, request, name, pointer: UnsafeMutableRawPointer(pointer)))
            } catch {
                outcome = .failure(error)
            }
        }
        return try outcome.get()
    }

    /// Fills `buffer` from `offset` of `fd`, as far as the file goes; returns the bytes read.
    static func pread(
        _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int, _ name: String
    ) throws(KVMError) -> Int {
        var done = 0
        while done < buffer.count {
            let result = Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if result == 0 { break }
            if result < 0 {
                let code = errno
                if code == EINTR { continue }
                throw KVMError(operation: name, code: code)
            }
            done += result
        }
        return done
    }

    static func close(_ fd: Int32) {
        // close(2) must not be retried on EINTR on Linux: the descriptor is gone either way.
        _ = Glibc.close(fd)
    }
}
