import ArgumentParser

/// `vmctl`: the command line of the vmm daemon.
struct VMCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmctl",
        abstract: "Manage the virtual machines of the vmm daemon (vmmd).",
        discussion: """
            vmctl talks to vmmd over its API socket: --socket, else $VMM_SOCKET, else \
            /run/vmm/vmmd.sock. Members of the socket's group (kvm) may use it without root. \
            --connect https://HOST:PORT (or $VMCTL_CONNECT) drives a vmmd on another host over \
            mutual TLS with --tls-cert, --tls-key and --tls-ca ($VMCTL_TLS_CERT, ...). \
            Sizes take a K, M, G or T suffix (powers of 1024) or are plain bytes. --json prints \
            the API's JSON pretty-printed with sorted keys (events: one compact object a line).

            Exit status:
              0  success
              1  any other error (vmmd failed, an unexpected answer)
              2  invalid argument or usage
              3  vmmd is not running (no socket, or nothing listens on it)
              4  permission denied (on the socket, or by vmmd), or the TLS handshake failed
              5  no such VM (or snapshot)
              6  the VM's state does not allow that now (e.g. start a running VM)
              7  invalid VM definition or request, as vmmd judged it
            """,
        subcommands: [
            CreateCommand.self, ListCommand.self, InfoCommand.self, StartCommand.self, StopCommand.self,
            PauseCommand.self, ResumeCommand.self, RebootCommand.self, KillCommand.self, DeleteCommand.self,
            SnapshotCommand.self, RestoreCommand.self, CloneCommand.self, ConsoleCommand.self, EventsCommand.self,
            HostCommand.self, MigrateCommand.self, SetCommand.self, StatsCommand.self,
        ]
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        throw CleanExit.helpRequest(self)
    }
}
