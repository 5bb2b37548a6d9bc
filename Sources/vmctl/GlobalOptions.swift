import ArgumentParser
import Foundation
import VMMAPI

/// Where vmmd is: options every command takes.
struct GlobalOptions: ParsableArguments {
    static let defaultSocket = "/run/vmm/vmmd.sock"

    @Option(help: ArgumentHelp(
        "vmmd's API socket (default: $VMM_SOCKET, else \(defaultSocket)).", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp(
        "A remote vmmd's API, https://HOST:PORT, over mutual TLS (default: $VMCTL_CONNECT; --socket overrides it).",
        valueName: "url"))
    var connect: String?

    @Option(help: ArgumentHelp("This client's certificate for --connect (default: $VMCTL_TLS_CERT).", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("The key of --tls-cert (default: $VMCTL_TLS_KEY).", valueName: "file"))
    var tlsKey: String?

    @Option(help: ArgumentHelp("The CA that signed vmmd's certificate (default: $VMCTL_TLS_CA).", valueName: "file"))
    var tlsCa: String?

    /// Read once, so tests can replace it.
    var environment: [String: String] = ProcessInfo.processInfo.environment

    private enum CodingKeys: String, CodingKey {
        case socket, connect, tlsCert, tlsKey, tlsCa
    }

    var socketPath: String {
        socket ?? environment["VMM_SOCKET"] ?? Self.defaultSocket
    }

    /// --connect, else $VMCTL_CONNECT unless --socket names a local daemon.
    private var connectURL: String? {
        connect ?? (socket == nil ? environment["VMCTL_CONNECT"].flatMap { $0.isEmpty ? nil : $0 } : nil)
    }

    func validate() throws {
        if connect != nil && socket != nil {
            throw ValidationError("--connect and --socket each name a vmmd; give one")
        }
        if connectURL == nil && (tlsCert != nil || tlsKey != nil || tlsCa != nil) {
            throw ValidationError("--tls-cert, --tls-key and --tls-ca are for a remote vmmd: add --connect https://HOST:PORT")
        }
    }

    /// The local socket, or the remote daemon with this client's TLS files.
    func endpoint() throws -> HTTPClient.Endpoint {
        guard let url = connectURL else { return .unixSocket(path: socketPath) }
        let options = [("--tls-cert", "VMCTL_TLS_CERT", tlsCert), ("--tls-key", "VMCTL_TLS_KEY", tlsKey), ("--tls-ca", "VMCTL_TLS_CA", tlsCa)]
        let paths = options.map { _, variable, value in value ?? environment[variable] ?? "" }
        guard !paths.contains("") else {
            let missing = zip(options, paths).filter { $1.isEmpty }.map { option, _ in "\(option.0) (or $\(option.1))" }
            throw ValidationError("\(url) needs this client's certificate, key and CA; missing: \(missing.joined(separator: ", "))")
        }
        let tls = TLSFiles(certificate: paths[0], key: paths[1], certificateAuthority: paths[2])
        do {
            return try .https(url: url, tls: tls)
        } catch {
            throw ValidationError("--connect: \(error)")
        }
    }

    /// A client for vmmd's API.
    // Not inlined: Swift 6.3.1's optimizer crashes (signal 11 "while splitting
    // coroutine") on async commands that inline this typed-throws initializer.
    @inline(never)
    func client() throws -> HTTPClient {
        try HTTPClient(endpoint: try endpoint())
    }
}
