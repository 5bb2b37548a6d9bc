import Foundation
import Glibc

/// Naming the system call when a `vmm`'s seccomp filter killed it.
extension RuntimeDirectory {
    /// How a `vmm` that left no exit file ended. A seccomp kill (SIGSYS) comes with the
    /// line `vmm` wrote to its log as it died: which thread made which forbidden call.
    func summary(ofEnding ending: ProcessHandle.Ending, pid: pid_t) -> String {
        guard case .signaled(SIGSYS) = ending else { return "vmm \(ending), no exit file" }
        return "vmm killed by seccomp (SIGSYS)" + (seccompReport(pid: pid).map { ": \($0)" } ?? "")
    }

    /// `thread vcpu made forbidden system call getpid (39)` from the end of vmm.log, if the
    /// `vmm` with this pid wrote it (the log spans runs; the pid tells this run's line).
    func seccompReport(pid: pid_t) -> String? {
        guard let log = FileHandle(forReadingAtPath: logFile) else { return nil }
        defer { try? log.close() }
        let size = (try? log.seekToEnd()) ?? 0
        try? log.seek(toOffset: size > 16384 ? size - 16384 : 0)
        let text = String(decoding: (try? log.readToEnd()) ?? Data(), as: UTF8.self)
        let marker = "; pid \(pid) ends by SIGSYS"
        guard let line = text.split(separator: "\n").last(where: { $0.contains(marker) }),
              let start = line.range(of: "seccomp: "), let end = line.range(of: marker)
        else { return nil }
        return String(line[start.upperBound..<end.lowerBound])
    }
}
