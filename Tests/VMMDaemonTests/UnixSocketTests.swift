import Foundation
import Glibc
import Synchronization
import Testing
@testable import VMMDaemon

/// `UnixSocket`, the daemon's connection to a `vmm`'s control and console sockets.
struct UnixSocketTests {
    /// A connect that fails (the `vmm` has not made its socket yet: the daemon retries
    /// this all through a VM's start) closes its descriptor once. Closed twice, the second
    /// close hit whatever another thread had opened under that number meanwhile: vmmd
    /// crashed in NIO with EBADF while 20 VMs started at once. Here another thread keeps
    /// opening a pipe and checking its ends are still open while connects fail.
    @Test func aFailedConnectClosesOnlyItsOwnDescriptor() async throws {
        let missing = "/tmp/vmm-unix-socket-test-\(getpid())-absent.sock"
        let stop = Atomic(false)
        let lost = Atomic(0)
        let checker = Thread {
            while !stop.load(ordering: .relaxed) {
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else { continue }
                for _ in 0..<50 where fcntl(ends[0], F_GETFD) < 0 || fcntl(ends[1], F_GETFD) < 0 {
                    lost.add(1, ordering: .relaxed)
                }
                close(ends[0])
                close(ends[1])
            }
        }
        checker.start()
        for _ in 0..<20_000 {
            #expect(throws: FileError.self) { try UnixSocket(connectingTo: missing) }
        }
        stop.store(true, ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(50))
        #expect(lost.load(ordering: .relaxed) == 0, "descriptors of another thread were closed under it")
    }
}
