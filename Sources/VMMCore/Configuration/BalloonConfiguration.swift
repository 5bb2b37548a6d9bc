import DeviceOptions

/// The virtio-balloon device's settings: the `--balloon` option's value as parsed
/// (initial size, deflate-on-OOM, free page reporting, statistics period).
public typealias BalloonConfiguration = BalloonOption

extension BalloonConfiguration {
    /// Parses a `--balloon` value, as a configuration error.
    public static func parsing(_ text: String) throws(VMMError) -> BalloonConfiguration {
        do {
            return try BalloonConfiguration(parsing: text, option: "--balloon")
        } catch {
            throw .invalidConfiguration(error.message)
        }
    }
}
