import Glibc
import Testing
import VMMAPI

@Suite struct HTTPClientErrorTests {
    @Test func connectErrnosMapToWhatACLINeedsToTellApart() {
        let path = "/run/vmm/vmmd.sock"
        #expect(HTTPClientError.connecting(to: path, errno: ENOENT) == .daemonNotRunning(endpoint: path, reason: "no such socket"))
        #expect(HTTPClientError.connecting(to: path, errno: ECONNREFUSED) == .daemonNotRunning(endpoint: path, reason: "connection refused"))
        #expect(HTTPClientError.connecting(to: path, errno: EACCES) == .permissionDenied(endpoint: path))
        #expect(HTTPClientError.connecting(to: path, errno: EPERM) == .permissionDenied(endpoint: path))
        guard case .connectionFailed = HTTPClientError.connecting(to: path, errno: EMFILE) else {
            Issue.record("EMFILE is neither 'not running' nor 'permission denied'")
            return
        }
    }

    @Test func messagesNameTheSocket() {
        #expect("\(HTTPClientError.daemonNotRunning(endpoint: "/x.sock", reason: "no such socket"))"
            == "cannot reach vmmd at /x.sock: no such socket")
        #expect("\(HTTPClientError.permissionDenied(endpoint: "/x.sock"))" == "cannot connect to vmmd at /x.sock: permission denied")
    }
}
