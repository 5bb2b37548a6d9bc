/// Durations for people: the two largest units, `3d 4h`, `5m 12s`, `9s`.
enum Uptime {
    static func format(_ seconds: Double) -> String {
        let total = Int(max(0, seconds.rounded(.down)))
        let parts = [(total / 86400, "d"), (total / 3600 % 24, "h"), (total / 60 % 60, "m"), (total % 60, "s")]
        guard let first = parts.firstIndex(where: { $0.0 > 0 }) else { return "0s" }
        return parts[first...].prefix(2).map { "\($0.0)\($0.1)" }.joined(separator: " ")
    }
}
