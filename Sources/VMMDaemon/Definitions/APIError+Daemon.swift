import VMMAPI

/// The errors the daemon raises in more than one place.
extension APIError {
    static func invalidName(_ name: String) -> APIError {
        APIError(code: .badRequest, message: "invalid VM name \"\(name)\": use 1-63 of a-z, 0-9 and -, starting with a letter or digit")
    }

    static func unknownVM(_ name: String) -> APIError {
        APIError(code: .notFound, message: "no VM named \(name)")
    }

    static func illegal(_ action: String, _ name: String, in state: VMState) -> APIError {
        APIError(code: .conflict, message: "cannot \(action) VM \(name) while it is \(state.rawValue)")
    }

    static func internalError(_ message: String) -> APIError {
        APIError(code: .internalError, message: message)
    }
}

/// The errors about snapshots.
extension APIError {
    static func invalidSnapshotName(_ name: String) -> APIError {
        APIError(code: .badRequest, message: "invalid snapshot name \"\(name)\": use 1-63 of a-z, 0-9 and -, starting with a letter or digit")
    }

    static func unknownSnapshot(_ name: String, of vm: String) -> APIError {
        APIError(code: .notFound, message: "VM \(vm) has no snapshot named \(name)")
    }
}
