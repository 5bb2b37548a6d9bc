import Foundation
import TestSupport

/// Where the tests find the binaries and guest kernels (the ones `swift build` and
/// `make -C Tests/Guests` produce). Environment variables override: `VMMD_BINARY`,
/// `VMM_BINARY`, `VMM_TEST_GUESTS`.
enum TestPaths {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static var vmmd: String { environment("VMMD_BINARY") ?? "\(packageRoot)/.build/debug/vmmd" }
    static var vmm: String { environment("VMM_BINARY") ?? "\(packageRoot)/.build/debug/vmm" }

    /// The folder of the Multiboot test kernels, built on first use.
    static let guests: String = {
        let folder = environment("VMM_TEST_GUESTS") ?? "\(packageRoot)/.build/guests"
        if !FileManager.default.fileExists(atPath: "\(folder)/echo.elf") {
            let make = SpawnedProcess()
            make.executableURL = URL(fileURLWithPath: "/usr/bin/make")
            make.arguments = ["-s", "-C", "\(packageRoot)/Tests/Guests", "OUT=\(folder)"]
            try? make.run()
            make.waitUntilExit()
        }
        return folder
    }()

    static func kernel(_ name: String) -> String { "\(guests)/\(name).elf" }

    private static func environment(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }
}
