/// Why the control socket refused a request; `code` is what a client acts on.
public struct ControlError: Error, Sendable {
    public enum Code: String, Sendable {
        /// The line is not a request (unknown word, too long).
        case badRequest = "bad_request"
        /// The request does not fit the VM's state (pause while paused).
        case conflict
        /// The VM did not do what was asked in time.
        case timeout
        /// The request was valid but the host could not carry it out (a full disk while
        /// writing a snapshot); the VM goes on as before.
        case failed
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `{"error":{"code":...,"message":...}}`
    public var response: JSONValue {
        .object([("error", .object([("code", .string(code.rawValue)), ("message", .string(message))]))])
    }
}
