import Glibc
import NIOCore
import VMMAPI

/// Carries a migration stream between two channels, byte for byte, both ways: on the
/// source between the `vmm`'s Unix connection and the TLS connection to the destination,
/// on the destination between that TLS connection and `vmm receive`'s Unix socket.
///
/// Backpressure: a side reads only while the other side can take writes, so a slow link
/// holds the sending `vmm` back instead of filling the daemon's memory. When either side
/// closes, what it sent is written out to the other, which is then closed too.
enum MigrationTunnel {
    /// The first line of a connection to the migration port: `VMM-MIGRATION <id>\n`.
    static let headerPrefix = "VMM-MIGRATION "
    /// The longest first line accepted (an id is a UUID): anything longer is not a peer.
    static let maximumHeaderLength = 128

    static func header(for id: String) -> String { "\(headerPrefix)\(id)\n" }

    /// TCP_USER_TIMEOUT of the tunnel's TCP side: data unacknowledged this long (ms) means
    /// the link is gone, and the connection fails, so the sending `vmm` learns it at once
    /// instead of after its own 30 s without progress.
    static let linkTimeoutMilliseconds = 10_000
    /// The socket option that sets it (Linux's TCP_USER_TIMEOUT, 18).
    static let userTimeoutOption = ChannelOptions.Types.SocketOption(level: SocketOptionLevel(IPPROTO_TCP), name: 18)

    /// Joins `first` and `second`, which must share an event loop; call on that loop.
    /// Both should have `autoRead` on (reads pass through the splice's gate).
    static func splice(_ first: any Channel, _ second: any Channel) throws {
        try ChannelSplice.join(first, second)
    }
}
