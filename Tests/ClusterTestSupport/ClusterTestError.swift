/// A test fixture that could not be set up, with what went wrong.
public struct ClusterTestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
