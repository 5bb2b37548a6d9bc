import Glibc

/// A TCP port on 127.0.0.1 that nothing listens on now and that is not in `taken`: below
/// the kernel's ephemeral range (32768 and up), so no outgoing connection of a parallel
/// test takes it before the server binds it.
public func freeTCPPort(avoiding taken: Set<Int> = []) throws -> Int {
    for _ in 0..<100 {
        let port = Int.random(in: 20000..<32768)
        if !taken.contains(port), canBind(port) { return port }
    }
    throw ClusterTestError("no free TCP port on 127.0.0.1 between 20000 and 32767")
}

private func canBind(_ port: Int) -> Bool {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { return false }
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}
