/// The API's paths (see docs and `api/openapi.yaml`).
enum Routes {
    static let vms = "/v1/vms"
    static let events = "/v1/events"
    static let host = "/v1/host"

    /// A VM's resource; `name` is a valid VM name, so it needs no escaping.
    static func vm(_ name: String) -> String { "\(vms)/\(name)" }

    static func action(_ action: String, on name: String) -> String { "\(vm(name))/\(action)" }

    /// Switched to the VM's console by HTTP/1.1 `Upgrade` (see `ConsoleAttachment`).
    static func consoleAttach(_ name: String) -> String { "\(vm(name))/console/attach" }

    static func statistics(_ name: String) -> String { "\(vm(name))/stats" }

    static func snapshots(_ name: String) -> String { "\(vm(name))/snapshots" }

    /// One snapshot; its name is valid too.
    static func snapshot(_ snapshot: String, of name: String) -> String { "\(snapshots(name))/\(snapshot)" }
}
