import Glibc
import Testing
import VMMAPI

@Suite struct UnixHTTPClientErrorTests {
    @Test func connectErrnosMapToWhatACLINeedsToTellApart() {
        let path = "/run/vmm/vmmd.sock"
        #expect(UnixHTTPClientError.connecting(to: path, errno: ENOENT) == .daemonNotRunning(socketPath: path, reason: "no such socket"))
        #expect(UnixHTTPClientError.connecting(to: path, errno: ECONNREFUSED) == .daemonNotRunning(socketPath: path, reason: "connection refused"))
        #expect(UnixHTTPClientError.connecting(to: path, errno: EACCES) == .permissionDenied(socketPath: path))
        #expect(UnixHTTPClientError.connecting(to: path, errno: EPERM) == .permissionDenied(socketPath: path))
        guard case .connectionFailed = UnixHTTPClientError.connecting(to: path, errno: EMFILE) else {
            Issue.record("EMFILE is neither 'not running' nor 'permission denied'")
            return
        }
    }

    @Test func messagesNameTheSocket() {
        #expect("\(UnixHTTPClientError.daemonNotRunning(socketPath: "/x.sock", reason: "no such socket"))"
            == "cannot reach vmmd at /x.sock: no such socket")
        #expect("\(UnixHTTPClientError.permissionDenied(socketPath: "/x.sock"))" == "cannot connect to vmmd at /x.sock: permission denied")
    }
}
