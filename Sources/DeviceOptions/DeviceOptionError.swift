/// A disk or network setting that cannot work, with a message that names the option (or
/// the API field), says why, and how to write it instead.
public struct DeviceOptionError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
