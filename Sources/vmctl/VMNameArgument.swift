import ArgumentParser
import VMMAPI

/// The VM a command acts on.
struct VMNameArgument: ParsableArguments {
    @Argument(help: "The VM's name.")
    var name: String

    func validate() throws {
        try Self.check(name, "VM name")
    }

    /// Throws unless `name` follows the naming rules of VMs (which snapshots share).
    static func check(_ name: String, _ what: String) throws {
        guard VMDefinition.isValidName(name) else {
            throw ValidationError(
                "'\(name)' is not a \(what): use 1 to 63 lowercase letters, digits and '-', starting with a letter or digit")
        }
    }
}
