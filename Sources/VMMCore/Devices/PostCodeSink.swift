/// Port 0x80: firmware POST codes and Linux's I/O delay writes. Accepted and dropped.
public final class PostCodeSink: PortIODevice {
    public static let port: UInt16 = 0x80
    public init() {}
    public func read(offset: UInt16, size: Int) -> UInt32 { 0 }
    public func write(offset: UInt16, size: Int, value: UInt32) {}
}
