import NIOSSL

/// How logs name the holder of a peer's certificate.
enum PeerCertificate {
    /// `CN=NAME` from the certificate's subject; NIOSSL shows the subject's common name
    /// (and the alternative names) only in its description, so it is read from there.
    static func subject(_ certificate: NIOSSLCertificate) -> String {
        let description = certificate.description
        guard let start = description.range(of: ";common_name=") else { return description }
        let name = description[start.upperBound...].prefix { $0 != ";" && $0 != ">" }
        return "CN=\(name)"
    }
}
