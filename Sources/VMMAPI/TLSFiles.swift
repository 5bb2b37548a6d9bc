#if canImport(Glibc)
import Glibc
#endif
import NIOSSL

/// The PEM files of one host's TLS identity: its certificate, its private key, and the
/// certificate authority that signed every host's certificate.
///
/// Daemons and `vmctl` use the same three files in both directions (mutual TLS): a server
/// accepts only clients whose certificate the CA signed, and a client accepts only a
/// server whose certificate the CA signed *and* names the host it dialled (subject
/// alternative name `DNS:NAME` or `IP:ADDRESS`, as `scripts/make-certificates.sh` writes).
public struct TLSFiles: Sendable, Hashable {
    /// This host's certificate (PEM; may be followed by intermediate certificates).
    public var certificate: String
    /// The private key of `certificate` (PEM).
    public var key: String
    /// The CA certificate(s) peers' certificates must be signed by (PEM).
    public var certificateAuthority: String

    public init(certificate: String, key: String, certificateAuthority: String) {
        self.certificate = certificate
        self.key = key
        self.certificateAuthority = certificateAuthority
    }

    /// For a server: clients must present a certificate the CA signed, or the handshake
    /// fails. Their host names are not checked (a client's address says nothing about it).
    public func serverConfiguration() throws(TLSFilesError) -> TLSConfiguration {
        try make(server: true).configuration
    }

    /// For a client: the server must present a certificate the CA signed for the host
    /// name or IP address the client connects to; the client presents its own. With
    /// `NIOSSLClientHandler(context:serverHostname:)`, pass the host name, or nil for an
    /// IP address (NIOSSL then matches the connected address against the `IP:` names).
    public func clientConfiguration() throws(TLSFilesError) -> TLSConfiguration {
        try make(server: false).configuration
    }

    /// ``serverConfiguration()``'s context, for an `NIOSSLServerHandler`.
    public func serverContext() throws(TLSFilesError) -> NIOSSLContext {
        try make(server: true).context
    }

    /// ``clientConfiguration()``'s context, for an `NIOSSLClientHandler`.
    public func clientContext() throws(TLSFilesError) -> NIOSSLContext {
        try make(server: false).context
    }

    /// Trusts only the CA (never the system's roots: peers are this cluster's hosts) and
    /// speaks TLS 1.3 only (both ends are vmm's). Making the context checks that the key
    /// fits the certificate.
    private func make(server: Bool) throws(TLSFilesError) -> (configuration: TLSConfiguration, context: NIOSSLContext) {
        let identity = try load()
        var configuration: TLSConfiguration
        if server {
            configuration = .makeServerConfiguration(
                certificateChain: identity.chain.map { .certificate($0) }, privateKey: .privateKey(identity.key))
            configuration.certificateVerification = .noHostnameVerification
        } else {
            configuration = .makeClientConfiguration()
            configuration.certificateChain = identity.chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(identity.key)
            configuration.certificateVerification = .fullVerification
        }
        configuration.trustRoots = .certificates(identity.authorities)
        configuration.minimumTLSVersion = .tlsv13
        do {
            return (configuration, try NIOSSLContext(configuration: configuration))
        } catch {
            throw TLSFilesError(path: key, problem: "is not the private key of \(certificate) (\(error))")
        }
    }

    private struct Identity {
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
        var authorities: [NIOSSLCertificate]
    }

    private func load() throws(TLSFilesError) -> Identity {
        let chain = try Self.certificates(certificate, role: "certificate")
        let authorities = try Self.certificates(certificateAuthority, role: "CA certificate")
        try Self.checkReadable(key, role: "key")
        do {
            return Identity(chain: chain, key: try NIOSSLPrivateKey(file: key, format: .pem), authorities: authorities)
        } catch {
            throw TLSFilesError(path: key, problem: "is not a PEM private key (\(error))")
        }
    }

    private static func certificates(_ path: String, role: String) throws(TLSFilesError) -> [NIOSSLCertificate] {
        try checkReadable(path, role: role)
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw TLSFilesError(path: path, problem: "is not a PEM \(role) (\(error))")
        }
        guard !certificates.isEmpty else { throw TLSFilesError(path: path, problem: "holds no PEM \(role)") }
        return certificates
    }

    /// NIOSSL's errors for a missing file do not say which file; this one does.
    private static func checkReadable(_ path: String, role: String) throws(TLSFilesError) {
        guard let file = fopen(path, "r") else {
            throw TLSFilesError(path: path, problem: "cannot be read as the TLS \(role): \(String(cString: strerror(errno)))")
        }
        fclose(file)
    }
}
