import Foundation

/// A `vmm run` started the way vmmd will start it: control and console sockets, pid file
/// and exit file in a fresh folder that is removed afterwards.
final class SupervisedVMM {
    let folder: String
    let process: VMMProcess
    var controlPath: String { folder + "/control.sock" }
    var consolePath: String { folder + "/console.sock" }
    var pidPath: String { folder + "/vmm.pid" }
    var exitPath: String { folder + "/exit.json" }

    init(kernel: String, arguments: [String] = [], environment: [String: String] = [:]) throws {
        // Short: a socket path must fit in sun_path's 108 bytes.
        folder = "/tmp/vmm-ctl-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        process = VMMProcess(["run", "--kernel", try TestEnvironment.guest(kernel),
                              "--control-socket", folder + "/control.sock", "--console-socket", folder + "/console.sock",
                              "--pid-file", folder + "/vmm.pid", "--exit-file", folder + "/exit.json"] + arguments,
                             environment: environment)
        try process.start()
    }

    deinit {
        if process.process.isRunning { _ = process.finish(timeout: 0) }
        try? FileManager.default.removeItem(atPath: folder)
    }

    func control() throws -> UnixSocketConnection { try UnixSocketConnection(path: controlPath) }
    func console() throws -> UnixSocketConnection { try UnixSocketConnection(path: consolePath) }

    /// The exit file's JSON object, once vmm wrote it.
    var exitReport: [String: Any]? {
        guard let data = FileManager.default.contents(atPath: exitPath) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    func fileExists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
}
