import Foundation

/// The `Key:` lines of a process's (or one of its threads') /proc status file; empty when
/// the process is gone.
public enum ProcessStatus {
    public static func fields(_ pid: Int32, thread: Int32? = nil) -> [String: String] {
        let path = thread.map { "/proc/\(pid)/task/\($0)/status" } ?? "/proc/\(pid)/status"
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }
}
