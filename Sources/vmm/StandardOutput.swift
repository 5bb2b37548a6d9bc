#if canImport(Glibc)
import Glibc
#endif

/// The guest's serial output on vmm's standard output, byte by byte as it is sent.
struct StandardOutput: ConsoleSink {
    func write(_ byte: UInt8) {
        var byte = byte
        // A closed or full pipe must not stop the guest: give up on errors other than EINTR.
        while Glibc.write(STDOUT_FILENO, &byte, 1) < 0 && errno == EINTR {}
    }

    /// Nothing waits: `write` passed each byte on or gave it up.
    func flush(within seconds: Double) {}
}
