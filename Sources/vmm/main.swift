#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser

// ArgumentParser's usage errors exit with 64; vmm promises 2 for every kind of bad input.
do {
    var command = try VMMCommand.parseAsRoot()
    try command.run()
} catch {
    if VMMCommand.exitCode(for: error) == .success { VMMCommand.exit(withError: error) }
    if let exitCode = error as? ExitCode { exit(exitCode.rawValue) }
    let message = VMMCommand.message(for: error)
    let line = "vmm: \(message.split(separator: "\n").first ?? "")\n"
    _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    exit(ExitStatus.badInput)
}
