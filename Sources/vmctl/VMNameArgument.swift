import ArgumentParser
import VMMAPI

/// The VM a command acts on.
struct VMNameArgument: ParsableArguments {
    @Argument(help: "The VM's name.")
    var name: String

    func validate() throws {
        guard VMDefinition.isValidName(name) else {
            throw ValidationError(
                "'\(name)' is not a VM name: use 1 to 63 lowercase letters, digits and '-', starting with a letter or digit")
        }
    }
}
