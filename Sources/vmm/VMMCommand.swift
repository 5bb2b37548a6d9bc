import ArgumentParser

/// `vmm`: runs one virtual machine.
struct VMMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmm",
        abstract: "Run one KVM virtual machine.",
        discussion: """
            Exit status: 0 the guest powered off; an odd number (V<<1)|1 the guest wrote V to \
            the debug-exit port 0xf4; 2 bad input (no VM was started); 4 the guest crashed \
            (triple fault, emulation failure); 6 vmm failed on the host; 143 the guest \
            ignored the power button after SIGTERM and was stopped.
            """,
        subcommands: [RunCommand.self, RestoreCommand.self],
        defaultSubcommand: RunCommand.self
    )
}
