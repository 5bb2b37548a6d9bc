#if canImport(Glibc)
import Glibc
#endif
import CommandLineOptions

/// `vmm`: runs one virtual machine. Its command line is read by `CommandLineOptions`, not
/// swift-argument-parser, which would link Foundation into the one process every VM runs in.
enum VMMCommand {
    static let definition = CommandDefinition(
        name: "vmm",
        abstract: "Run one KVM virtual machine.",
        discussion: "Exit status: 0 the guest powered off; an odd number (V<<1)|1 the guest wrote V to "
            + "the debug-exit port 0xf4; 2 bad input (no VM was started); 4 the guest crashed "
            + "(triple fault, emulation failure); 3 'vmm receive' got no VM to run (the migration failed); 6 vmm failed on the host; 8 the fence deadline passed (vmm stopped the VM); 143 the guest "
            + "ignored the power button after SIGTERM and was stopped.",
        subcommands: [RunCommand.definition, RestoreCommand.definition, ReceiveCommand.definition],
        defaultSubcommand: RunCommand.definition.name)

    /// Runs the command `arguments` (without the program's name) ask for. Help goes to
    /// standard output with status 0; a usage error is one line on standard error with
    /// status 2 and no exit file, since the options naming it are not known yet.
    static func main(_ arguments: [String]) -> Never {
        do throws(UsageError) {
            switch try definition.parse(arguments) {
            case .help(let text):
                print(text)
                exit(ExitStatus.success)
            case .run(let parsed) where parsed.command.name == RestoreCommand.definition.name:
                try RestoreCommand(parsed).run()
            case .run(let parsed) where parsed.command.name == ReceiveCommand.definition.name:
                try ReceiveCommand(parsed).run()
            case .run(let parsed):
                try RunCommand(parsed).run()
            }
        } catch {
            let line = "vmm: \(error)\n"
            _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
            exit(ExitStatus.badInput)
        }
    }
}
