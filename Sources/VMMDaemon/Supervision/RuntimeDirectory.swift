import Foundation
import Glibc

/// The folder of one VM's `vmm` process: its log and the daemon's records, and the folder
/// `root` with what the `vmm` itself reaches (its sockets, pid file, exit file): a jailed
/// `vmm`'s root (docs/jail.md), which must hold nothing the daemon trusts.
struct RuntimeDirectory: Sendable {
    let path: String

    var root: String { "\(path)/root" }
    var controlSocket: String { "\(root)/control.sock" }
    var consoleSocket: String { "\(root)/console.sock" }
    var pidFile: String { "\(root)/vmm.pid" }
    var exitFile: String { "\(root)/exit.json" }
    var logFile: String { "\(path)/vmm.log" }
    /// `vmm receive` reads a migration stream from here (destination).
    var incomingSocket: String { "\(root)/incoming.sock" }
    /// The daemon's tunnel takes the `vmm`'s outgoing migration stream here (source).
    var migrationSocket: String { "\(root)/migration.sock" }
    /// Where an outgoing migration goes (id, destination), for a daemon restarted while
    /// the VM waits for the destination's confirmation.
    var migrationFile: String { "\(path)/migration.json" }

    /// Creates the folder and clears what a previous run left, so a stale socket or exit
    /// file cannot be mistaken for the new process's.
    func prepare() throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        clean()
    }

    /// Removes the files of an ended run; the log stays for diagnosis.
    func clean() {
        for file in [controlSocket, consoleSocket, pidFile, exitFile, incomingSocket, migrationSocket, migrationFile] { unlink(file) }
    }

    /// Removes the folder with everything in it (the VM is being deleted).
    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The pid the `vmm` wrote, if it did.
    func readPID() -> pid_t? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8) else { return nil }
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Why the last `vmm` ended, if it said so.
    func readExitRecord() -> ExitRecord? {
        guard let data = FileManager.default.contents(atPath: exitFile) else { return nil }
        return try? JSONDecoder().decode(ExitRecord.self, from: data)
    }

    /// Whether process `pid` is a `vmm` serving this folder (and not an unrelated process
    /// that got a reused pid).
    func isServed(by pid: pid_t) -> Bool {
        let arguments = Self.commandLine(of: pid)
        guard let flag = arguments.firstIndex(of: "--control-socket"), flag + 1 < arguments.count else { return false }
        return arguments[flag + 1] == controlSocket
    }

    /// The arguments process `pid` was started with; empty when it is gone.
    static func commandLine(of pid: pid_t) -> [String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return [] }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }
}
