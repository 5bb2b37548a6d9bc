import CommandLineOptions
import Foundation
import Testing
@testable import vmm

/// vmm's own command line, as vmmd and users write it.
@Suite struct CommandLineTests {
    private func parsed(_ arguments: [String]) throws -> ParsedArguments {
        guard case .run(let parsed) = try VMMCommand.definition.parse(arguments) else { throw Unexpected() }
        return parsed
    }

    private struct Unexpected: Error {}

    @Test func runIsTheDefaultAndTakesEveryOption() throws {
        let run = try RunCommand(parsed([
            "--kernel=k", "--initrd", "i", "--cmdline", "", "--cpus", "2", "--memory", "1G", "--cpu-features=-popcnt",
            "--no-pit", "--no-pvm-workarounds", "--disk", "a", "--disk", "b,readonly", "--net", "tap", "--no-rng",
            "--no-reboot", "--shutdown-timeout", "0.5", "-v", "--control-socket", "c", "--console-socket", "s",
            "--pid-file", "p", "--exit-file", "e",
        ]))
        #expect(run.kernel == "k" && run.initrd == "i" && run.commandLine == "" && run.cpus == 2 && run.memory == "1G")
        #expect(run.cpuFeatures == "-popcnt" && run.noPit && run.noPvmWorkarounds && run.noRng)
        #expect(run.disk == ["a", "b,readonly"] && run.net == ["tap"])
        let supervisor = run.supervisor
        #expect(supervisor.noReboot && supervisor.shutdownTimeout == 0.5 && supervisor.verbose)
        #expect(supervisor.controlSocket == "c" && supervisor.consoleSocket == "s")
        #expect(supervisor.pidFile == "p" && supervisor.exitFile == "e")
    }

    @Test func runDefaults() throws {
        let run = try RunCommand(parsed(["run", "--kernel", "k"]))
        #expect(run.initrd == nil && run.commandLine == "" && run.cpus == 1 && run.memory == "256M")
        #expect(run.cpuFeatures == "" && !run.noPit && run.disk.isEmpty && run.net.isEmpty)
        #expect(run.supervisor.shutdownTimeout == 5 && !run.supervisor.verbose && run.supervisor.exitFile == nil)
    }

    @Test func restoreTakesTheFolderAndSharedOptions() throws {
        let restore = try RestoreCommand(parsed([
            "restore", "/snap", "--disk", "d", "--new-identity", "--paused", "--catch-up-clock", "--no-reboot",
        ]))
        #expect(restore.directory == "/snap" && restore.disk == ["d"] && restore.net.isEmpty)
        #expect(restore.newIdentity && restore.paused && restore.catchUpClock && restore.supervisor.noReboot)
    }

    @Test func receiveNeedsAnIncomingSocket() throws {
        let receive = try ReceiveCommand(parsed(["receive", "--incoming", "/run/in.sock", "--net", "tap=t0", "--exit-file", "/e"]))
        #expect(receive.incoming == "/run/in.sock" && receive.net == ["tap=t0"] && receive.disk.isEmpty)
        #expect(receive.supervisor.exitFile == "/e")
        #expect(throws: UsageError.self) { try ReceiveCommand(parsed(["receive"])) }
    }

    @Test(arguments: ["-1", "nan", "inf"])
    func shutdownTimeoutMustBeSecondsZeroOrMore(value: String) throws {
        #expect(throws: UsageError("--shutdown-timeout must be a number of seconds, 0 or more", commandName: "vmm run")) {
            try RunCommand(parsed(["--kernel", "k", "--shutdown-timeout", value]))
        }
    }

    /// docs/vmm.1 is what `make install` installs; it must say what the code declares.
    /// After changing an option or a help text: `UPDATE_MANUAL_PAGE=1 swift test --filter vmmTests`.
    @Test func manualPageIsUpToDate() throws {
        let page = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/vmm.1")
        let generated = VMMCommand.definition.manualPage()
        if ProcessInfo.processInfo.environment["UPDATE_MANUAL_PAGE"] == "1" {
            try generated.write(to: page, atomically: true, encoding: .utf8)
        }
        let installed = try String(contentsOf: page, encoding: .utf8)
        #expect(installed == generated, "docs/vmm.1 is out of date: UPDATE_MANUAL_PAGE=1 swift test --filter vmmTests")
    }
}
