import ArgumentParser

/// `vmctl snapshot delete`: removes a snapshot.
struct SnapshotDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a snapshot of a VM.",
        discussion: "Refused while a clone that has not started yet starts from it.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: SnapshotNameArgument

    func run() async throws {
        try await global.client().delete(Routes.snapshot(target.snapshot, of: target.name))
        print("snapshot \(target.snapshot) of \(target.name) deleted")
    }
}
