import VMMCore

/// What a `SocketServer` does with its clients. Every call comes on the server's thread.
protocol SocketServerHandler: Sendable {
    func connected(_ client: SocketClient)

    /// Takes input from `client`: removes what it uses from the front of `input`; the rest
    /// stays there and comes back with the client's next input.
    func received(_ input: inout [UInt8], from client: SocketClient)

    func disconnected(_ client: SocketClient)

    /// While true the server reads no input from any client and calls `retry()` every few
    /// milliseconds: backpressure from the guest, passed on to the clients' sockets.
    var isBusy: Bool { get }

    func retry()
}

extension SocketServerHandler {
    var isBusy: Bool { false }
    func retry() {}
}
