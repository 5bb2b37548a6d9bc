import ArgumentParser
import VMMAPI

/// A VM and one of its snapshots.
struct SnapshotNameArgument: ParsableArguments {
    @Argument(help: "The VM's name.")
    var name: String

    @Argument(help: "The snapshot's name.")
    var snapshot: String

    func validate() throws {
        try VMNameArgument.check(name, "VM name")
        try VMNameArgument.check(snapshot, "snapshot name")
    }
}
