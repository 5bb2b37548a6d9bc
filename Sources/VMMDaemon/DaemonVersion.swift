/// The daemon's version, as `/v1/host` reports it.
public enum DaemonVersion {
    public static let current = "0.1.0"
}
