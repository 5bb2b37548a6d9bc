import ArgumentParser
import Foundation
import VMMAPI

/// Where vmmd is: options every command takes.
struct GlobalOptions: ParsableArguments {
    static let defaultSocket = "/run/vmm/vmmd.sock"
    static let defaultRuntimeDirectory = "/run/vmm"

    @Option(help: ArgumentHelp(
        "vmmd's API socket (default: $VMM_SOCKET, else \(defaultSocket)).", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp(
        "vmmd's runtime folder, which holds the console sockets (default: $VMM_RUNTIME_DIR, else \(defaultRuntimeDirectory)).",
        valueName: "path"))
    var runtimeDir: String?

    var socketPath: String {
        socket ?? ProcessInfo.processInfo.environment["VMM_SOCKET"] ?? Self.defaultSocket
    }

    var runtimeDirectory: String {
        runtimeDir ?? ProcessInfo.processInfo.environment["VMM_RUNTIME_DIR"] ?? Self.defaultRuntimeDirectory
    }

    /// A client for vmmd's API.
    func client() -> UnixHTTPClient {
        UnixHTTPClient(socketPath: socketPath)
    }

    /// The socket of VM `name`'s serial console, which vmctl attaches to directly.
    func consoleSocketPath(of name: String) -> String {
        "\(runtimeDirectory)/vms/\(name)/console.sock"
    }
}
