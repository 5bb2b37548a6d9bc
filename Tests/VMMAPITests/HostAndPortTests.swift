import Testing
import VMMAPI

@Suite struct HostAndPortTests {
    @Test func parsesNamesAndAddresses() throws {
        #expect(try HostAndPort(parsing: "host-a:7443") == HostAndPort(host: "host-a", port: 7443))
        #expect(try HostAndPort(parsing: "10.0.0.1:1") == HostAndPort(host: "10.0.0.1", port: 1))
        #expect(try HostAndPort(parsing: "[::1]:65535") == HostAndPort(host: "::1", port: 65535))
        #expect(try HostAndPort(parsing: "[fe80::1]:80").description == "[fe80::1]:80")
        #expect(try HostAndPort(parsing: "10.0.0.1:1").hostIsAddress)
        #expect(try !HostAndPort(parsing: "host-a:1").hostIsAddress)
    }

    @Test(arguments: ["host", "host:", ":80", "host:0", "host:65536", "host:http", "::1:80", "[::1]80", "a/b:80", "u@h:80"])
    func refusesWhatIsNotHostColonPort(_ text: String) {
        #expect(throws: HostAndPortError.self) { try HostAndPort(parsing: text) }
    }

    @Test func httpsEndpointsNeedTheScheme() throws {
        let files = TLSFiles(certificate: "c", key: "k", certificateAuthority: "a")
        #expect(try HTTPClient.Endpoint.https(url: "https://host-a:7443/", tls: files)
            == .https(HostAndPort(host: "host-a", port: 7443), tls: files))
        #expect(try HTTPClient.Endpoint.https(url: "https://host-a:7443", tls: files).description == "https://host-a:7443")
        #expect(throws: HostAndPortError.self) { try HTTPClient.Endpoint.https(url: "http://host-a:7443", tls: files) }
        #expect(throws: HostAndPortError.self) { try HTTPClient.Endpoint.https(url: "host-a:7443", tls: files) }
    }

    @Test func etcdStyleURLsArePlainOrTLS() throws {
        let files = TLSFiles(certificate: "c", key: "k", certificateAuthority: "a")
        #expect(try HTTPClient.Endpoint.url("http://127.0.0.1:2379", tls: nil) == .http(HostAndPort(host: "127.0.0.1", port: 2379)))
        #expect(try HTTPClient.Endpoint.url("http://127.0.0.1:2379/", tls: nil).description == "http://127.0.0.1:2379")
        #expect(try HTTPClient.Endpoint.url("https://etcd-1:2379", tls: files) == .https(HostAndPort(host: "etcd-1", port: 2379), tls: files))
        #expect(throws: HostAndPortError.self) { try HTTPClient.Endpoint.url("https://etcd-1:2379", tls: nil) }
        #expect(throws: HostAndPortError.self) { try HTTPClient.Endpoint.url("etcd-1:2379", tls: nil) }
        #expect(try HTTPClient.Endpoint.url("http://127.0.0.1:2379", tls: files) == .http(HostAndPort(host: "127.0.0.1", port: 2379)))
        #expect(try HTTPClient.Endpoint.url("http://127.0.0.1:2379", tls: nil).isRemote)
    }
}
