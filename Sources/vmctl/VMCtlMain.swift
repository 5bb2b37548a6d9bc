#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser

/// Runs vmctl with its own exit statuses: ArgumentParser's `main` would exit 64 on a
/// usage error, where vmctl documents 2.
@main
enum VMCtlMain {
    static func main() async {
        var command: any ParsableCommand
        do {
            command = try VMCtl.parseAsRoot()
        } catch {
            guard VMCtl.exitCode(for: error) == .validationFailure else { VMCtl.exit(withError: error) }
            StandardError.write(VMCtl.fullMessage(for: error))
            exit(ExitStatus.usage.rawValue)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // Help asked for at run time (`vmctl`, `vmctl help stop`) is ArgumentParser's to print.
            if VMCtl.exitCode(for: error) == .success { VMCtl.exit(withError: error) }
            let report = FailureReport(error)
            if let message = report.message {
                StandardError.write("vmctl: \(message)")
            }
            exit(report.status.rawValue)
        }
    }
}
