import ClusterTestSupport
import Foundation
import Glibc
import VMMAPI

/// A test daemon's TLS listener: certificates from scripts/make-certificates.sh in
/// `directory`, the API on 127.0.0.1:`port`. The daemon's certificate (`localhost`) names
/// only DNS:localhost, so clients reach it as https://localhost:PORT and a client dialling
/// 127.0.0.1 must refuse it.
struct DaemonTLS {
    let directory: String
    let port: Int
    let migrationPort: Int

    var url: String { "https://localhost:\(port)" }

    /// vmmd's options for this listener, with the certificate made for `localhost`.
    var arguments: [String] {
        [
            "--listen", "127.0.0.1:\(port)", "--migration-port", "\(migrationPort)", "--tls-cert", "\(directory)/localhost.crt",
            "--tls-key", "\(directory)/localhost.key", "--tls-ca", "\(directory)/ca.crt",
        ]
    }

    /// vmctl's options to reach this daemon as `client` of `certificates` (default: this
    /// daemon's folder; a client of another CA passes that CA's folder). The daemon's CA
    /// is trusted either way.
    func vmctlArguments(as client: String = "admin", certificates: String? = nil) -> [String] {
        let files = clientFiles(client, certificates: certificates)
        return ["--connect", url, "--tls-cert", files.certificate, "--tls-key", files.key, "--tls-ca", files.certificateAuthority]
    }

    /// The TLS files of `client` of `certificates` (default: this daemon's folder), trusting this daemon's CA.
    func clientFiles(_ client: String = "admin", certificates: String? = nil) -> TLSFiles {
        let directory = certificates ?? self.directory
        return TLSFiles(
            certificate: "\(directory)/\(client).crt", key: "\(directory)/\(client).key", certificateAuthority: "\(self.directory)/ca.crt")
    }

    /// Runs scripts/make-certificates.sh DIRECTORY SPECS...; throws with its output if it fails.
    static func makeCertificates(in directory: String, _ specs: String...) async throws {
        let result = try await Subprocess.run(["\(TestPaths.packageRoot)/scripts/make-certificates.sh", directory] + specs)
        guard result.status == 0 else { throw HarnessError("make-certificates.sh failed: \(result)") }
    }
}
