import ArgumentParser
import Testing
import VMMAPI
@testable import vmctl

@Suite struct FailureReportTests {
    @Test func exitStatusesTellFailuresApart() {
        let socket = "/run/vmm/vmmd.sock"
        #expect(FailureReport(HTTPClientError.daemonNotRunning(endpoint: socket, reason: "no such socket")).status == .daemonNotRunning)
        #expect(FailureReport(HTTPClientError.permissionDenied(endpoint: socket)).status == .permissionDenied)
        #expect(FailureReport(HTTPClientError.malformedResponse("x")).status == .failure)
        #expect(FailureReport(APIError(code: .notFound, message: "no VM named web")).status == .noSuchVM)
        #expect(FailureReport(APIError(code: .conflict, message: "web is running")).status == .conflict)
        #expect(FailureReport(APIError(code: .invalidDefinition, message: "no kernel")).status == .invalidDefinition)
        #expect(FailureReport(APIError(code: .badRequest, message: "bad JSON")).status == .invalidDefinition)
        #expect(FailureReport(APIError(code: .internalError, message: "boom")).status == .failure)
        #expect(FailureReport(ValidationError("bad")).status == .usage)
        #expect(FailureReport(ConsoleError.notRunning(name: "web", state: .stopped)).status == .conflict)
        #expect(FailureReport(ConsoleError.ended("console closed: web crashed")).status == .failure)
        #expect(FailureReport(HTTPClientError.tlsFailed(endpoint: "https://h:1", reason: "x")).status == .permissionDenied)
        #expect(FailureReport(HTTPClientError.daemonNotRunning(endpoint: "https://h:1", reason: "connection refused")).status == .daemonNotRunning)
        #expect(FailureReport(TLSFilesError(path: "a.key", problem: "cannot be read")).status == .usage)
        #expect(ExitStatus.allCases.map(\.rawValue) == Array(0...7))
    }

    @Test func messagesSayWhatWhyAndHowToFix() {
        let report = FailureReport(HTTPClientError.daemonNotRunning(endpoint: "/run/vmm/vmmd.sock", reason: "no such socket"))
        #expect(report.message == "cannot reach vmmd at /run/vmm/vmmd.sock: no such socket (is vmmd running? systemctl start vmmd; another socket: --socket or VMM_SOCKET)")
        #expect(FailureReport(APIError(code: .notFound, message: "no VM named web")).message == "no VM named web (vmctl list shows the VMs)")
        #expect(FailureReport(HTTPClientError.daemonNotRunning(endpoint: "https://h:1", reason: "connection refused")).message
            == "cannot reach vmmd at https://h:1: connection refused (is vmmd running there with --listen? check --connect or VMCTL_CONNECT)")
        #expect(FailureReport(ExitCode(5)).message == nil)
    }
}
