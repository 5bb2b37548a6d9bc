#if canImport(Glibc)
import Glibc
#endif
import Sizes
import VMMAPI

/// While a snapshot is taken, shows on a terminal how much it has written: the daemon
/// reports the bytes on disk in the VM's `operation`, polled twice a second.
struct SnapshotProgress {
    let client: HTTPClient
    let vm: String
    let snapshot: String

    /// Only where standard error is a terminal: scripts and logs get the result alone.
    static var isWanted: Bool { isatty(STDERR_FILENO) != 0 }

    func show() async {
        let started = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            guard !Task.isCancelled,
                  let info = try? await client.get(Routes.vm(vm), as: VMInfo.self),
                  let written = info.operation?.bytesWritten
            else { continue }
            let seconds = (ContinuousClock.now - started).components.seconds
            StandardError.overwrite("snapshot \(snapshot): \(ByteSize.format(UInt64(written))) written, \(seconds) s")
        }
    }

    static func clearLine() { StandardError.overwrite("") }
}
