import Foundation
import Testing

/// Where the integration tests find the `vmm` binary, the test kernels and the Linux guest,
/// and whether this host can run them.
enum TestEnvironment {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `vmm` built by `swift build` (override with VMM_BINARY).
    static var vmmBinary: String {
        if let path = ProcessInfo.processInfo.environment["VMM_BINARY"] { return path }
        return packageRoot.appendingPathComponent(".build/debug/vmm").path
    }

    /// The Multiboot test kernels built by `make -C Tests/Guests` (override with VMM_TEST_GUESTS).
    static var guestsDirectory: String {
        ProcessInfo.processInfo.environment["VMM_TEST_GUESTS"]
            ?? packageRoot.appendingPathComponent(".build/guests").path
    }

    /// The minimal Linux built by scripts/build-linux-guest.sh (override with VMM_LINUX_GUEST).
    static var linuxGuestDirectory: String {
        ProcessInfo.processInfo.environment["VMM_LINUX_GUEST"]
            ?? "/var/cache/vmm/guests/linux-current"
    }

    static func guest(_ name: String) throws -> String {
        let path = "\(guestsDirectory)/\(name).elf"
        guard FileManager.default.fileExists(atPath: path) else {
            throw TestSetupError("test kernel \(path) is missing: run `make -C Tests/Guests`")
        }
        return path
    }

    /// Whether /dev/kvm is PVM (no guest user space, no SMP Linux).
    static var isPVMHost: Bool { FileManager.default.fileExists(atPath: "/sys/module/kvm_pvm") }

    /// KVM tests fail without /dev/kvm, unless VMM_ALLOW_NO_KVM=1 lets a laptop skip them.
    static var kvmAvailable: Bool {
        if FileManager.default.isWritableFile(atPath: "/dev/kvm") { return true }
        if ProcessInfo.processInfo.environment["VMM_ALLOW_NO_KVM"] == "1" {
            print("skipping KVM tests: /dev/kvm is not usable and VMM_ALLOW_NO_KVM=1")
            return false
        }
        Issue.record("/dev/kvm is missing or not writable: KVM tests need it (set VMM_ALLOW_NO_KVM=1 to skip them)")
        return false
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
