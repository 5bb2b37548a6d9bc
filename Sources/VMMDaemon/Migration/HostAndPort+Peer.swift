import VMMAPI

extension HostAndPort {
    /// `text` as a peer daemon's address, or a 400 saying what is wrong with it.
    static func peer(_ text: String) throws -> HostAndPort {
        do {
            return try HostAndPort(parsing: text)
        } catch {
            throw APIError(code: .badRequest, message: "invalid daemon address: \(error) (e.g. 10.0.0.2:7443 or [fd00::2]:7443)")
        }
    }
}
