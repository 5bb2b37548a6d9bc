import VMMAPI

/// One VM per named tap across the daemon's VMs.
extension VMManager {
    /// Throws a 409 if `definition` names a tap another VM's definition also names: a tap
    /// serves one vmm at a time, so the second VM would fail at every start.
    func checkTapConflicts(_ definition: VMDefinition) throws {
        let others = vms.values.map(\.definition).filter { $0.name != definition.name }.sorted { $0.name < $1.name }
        for tap in definition.networks.compactMap(\.tap) {
            guard let other = others.first(where: { $0.networks.contains { $0.tap == tap } }) else { continue }
            throw APIError(
                code: .conflict,
                message: "tap \(tap) is already attached to VM \(other.name); a tap serves one VM: "
                    + "give this VM another tap name, or leave tap out to get a new one")
        }
    }
}
