#if canImport(Glibc)
import Glibc
#endif
import CommandLineOptions
import KVM
import VMMCore

/// `vmm restore DIR`: runs a VM from a snapshot folder exactly as `vmm run` would have.
struct RestoreCommand {
    /// The argument's and options' declarations.
    enum Option {
        static let directory = ArgumentDefinition("dir", help: "The snapshot folder.")
        static let disk = OptionDefinition.option(
            "disk", valueName: "path[,readonly]", repeatable: true,
            help: "Put disk i of the snapshot at this path instead of its recorded one (a clone's own copy); "
                + "give all of them or none, in order.")
        static let net = OptionDefinition.option(
            "net", valueName: "tap[=name][,mac=aa:bb:cc:dd:ee:ff]", repeatable: true,
            help: "Attach NIC i to this tap and MAC instead of the recorded ones; give all of them or none, in order.")
        static let newIdentity = OptionDefinition.flag(
            "new-identity", help: "Give the VM a new generation ID (ACPI VMGENID), as a clone needs.")
        static let paused = OptionDefinition.flag("paused", help: "Keep the vCPUs paused until a 'resume' control request.")
        static let mergePages = OptionDefinition.flag(
            "merge-pages",
            help: "Let the host kernel merge the guest's pages with identical pages elsewhere (KSM) once the guest "
                + "has written them (the pages it has not are the snapshot file's, shared by every VM restored "
                + "from it); also after a reboot. Merging happens while /sys/kernel/mm/ksm/run is 1.")
        static let catchUpClock = OptionDefinition.flag(
            "catch-up-clock",
            help: "Move the guest's clock on by the time since the snapshot was taken (wall-clock catch-up). "
                + "Without it the clock goes on from the saved instant, neither jumping back nor leaping.")
    }

    static let definition = CommandDefinition(
        name: "restore",
        abstract: "Run a VM from a snapshot folder (written by the control request 'snapshot DIR').",
        discussion: "The writable disks captured in the snapshot are copied back onto the disks' paths "
            + "(or onto the --disk paths given, in order) before the VM starts; a memory-only "
            + "snapshot uses the disks as they are. Exit statuses are those of 'vmm run'; a "
            + "missing, damaged or incompatible snapshot is status 2 and nothing is started.",
        arguments: [Option.directory],
        options: [Option.disk, Option.net, Option.newIdentity, Option.paused, Option.catchUpClock, Option.mergePages]
            + SupervisorOptions.Option.all + JailOptions.Option.all)

    let directory: String
    let disk: [String]
    let net: [String]
    let newIdentity: Bool
    let paused: Bool
    let catchUpClock: Bool
    let mergePages: Bool
    let supervisor: SupervisorOptions
    let jail: JailOptions

    init(_ parsed: ParsedArguments) throws(UsageError) {
        directory = parsed.argument(Option.directory)
        disk = parsed.values(Option.disk)
        net = parsed.values(Option.net)
        newIdentity = parsed.flag(Option.newIdentity)
        paused = parsed.flag(Option.paused)
        catchUpClock = parsed.flag(Option.catchUpClock)
        mergePages = parsed.flag(Option.mergePages)
        supervisor = try SupervisorOptions(parsed)
        jail = try JailOptions(parsed)
    }

    // Not optimized: Swift 6.3.1's optimizer freed what `session` captures before the
    // inlined call at the end used it (a use after free, found with valgrind: every release
    // `vmm restore` crashed); this runs once per process.
    @_optimize(none)
    func run() -> Never {
        let log = supervisor.makeLogger()
        supervisor.removeStaleExitFile()
        var image: SnapshotImage
        let configuration: MachineConfiguration
        do {
            image = try SnapshotImage(directory: directory)
            configuration = try overriddenConfiguration(image.description)
        } catch {
            supervisor.fail(error.description, status: ExitStatus.badInput)
        }
        let builder = supervisor.makeMachineBuilder(log: log)
        do {
            try builder.check(image)
        } catch {
            supervisor.fail(error.description, status: ExitStatus.badInput)
        }
        // Everything that can be refused without changing anything comes first (the
        // sockets are removed again on failure): only then are the disks put back.
        let supervision: Supervision
        do {
            supervision = try supervisor.makeSupervision(log: log)
        } catch {
            supervisor.fail(error)
        }
        let inputs: MachineBuilder.Inputs
        do {
            try restoreDisks(image, configuration: configuration, log: log)
            inputs = try builder.validate(restoring: image, configuration: configuration)
            // A jailed vmm cannot reach the snapshot folder when it maps the memory.
            if jail.jail != nil { image = try image.holdingMemoryOpen() }
        } catch {
            log.error(error.description)
            let report = ExitReport(failure: error)
            supervision.finish(report)
            Glibc.exit(report.status)
        }
        let (noReboot, shutdownTimeout, seccomp) = (supervisor.noReboot, supervisor.shutdownTimeout, supervisor.seccomp)
        let (paused, catchUpClock) = (paused, catchUpClock)
        let session = { @Sendable [image] (supervision: Supervision) -> Never in
            Glibc.exit(Session(
                builder: builder, configuration: configuration, inputs: inputs, log: log,
                noReboot: noReboot, shutdownTimeout: shutdownTimeout, seccomp: seccomp,
                supervision: supervision,
                start: .restore(image, paused: paused, catchUpClock: catchUpClock)
            ).run())
        }
        if let jail = jail.jail { jail.enter(supervision, then: session) }
        session(supervision)
    }

    /// The snapshot's configuration with this command line's disks and NICs.
    private func overriddenConfiguration(_ description: SnapshotDescription) throws(VMMError) -> MachineConfiguration {
        var configuration = try DeviceOverrides(
            disks: try DiskConfiguration.parsing(disk), networks: try NetworkConfiguration.parsing(net), of: "the snapshot"
        ).apply(to: description.configuration)
        if newIdentity { configuration.generationID = GenerationID.random() }
        if mergePages { configuration.mergePages = true }
        return configuration
    }

    /// Puts each captured disk back: the disk goes back to the snapshot's instant with the
    /// memory. An image that another vmm has open (locked) is not touched.
    private func restoreDisks(_ image: SnapshotImage, configuration: MachineConfiguration, log: Logger) throws(VMMError) {
        guard !image.description.memoryOnly else { return }
        for (index, copy) in image.description.diskCopies.enumerated() {
            guard let copy else { continue }
            let target = configuration.disks[index].path
            try DiskCopy.overwrite(target, withContentsOf: "\(image.directory)/\(copy)")
            log.debug("restore: disk \(index) \(target) from \(copy)")
        }
    }
}
