#if canImport(Glibc)
import Glibc
#endif
import VMMAPI

/// Attaches this process's standard input and output to a VM's console through vmmd's API
/// (`GET /v1/vms/NAME/console/attach`, switched to the console's bytes by HTTP/1.1
/// `Upgrade`): the same way on the local socket and on a remote daemon over mutual TLS.
struct ConsoleAttachment {
    /// The `Upgrade` token of the attach route.
    static let upgradeProtocol = "vmm-console"
    /// How long vmctl waits, after the console closed, for vmmd to record that the VM ended.
    private static let endWait: Duration = .seconds(3)

    let global: GlobalOptions
    let name: String

    func run() async throws {
        let client = try global.client()
        let socket: Int32
        do {
            socket = try await client.upgrade(Routes.consoleAttach(name), to: Self.upgradeProtocol)
        } catch let error as APIError where error.code == APIError.Code.conflict.rawValue {
            // Say it in vmctl's words: which state, and the commands that help.
            let info = try? await client.get(Routes.vm(name), as: VMInfo.self)
            if let info, !info.state.hasProcess { throw ConsoleError.notRunning(name: name, state: info.state) }
            throw error
        }
        defer { close(socket) }
        let (ending, interactive) = try Terminal.withRawModeIfInteractive { interactive in
            if interactive {
                StandardError.write("Connected to \(name)'s console; Ctrl-] detaches.")
            }
            return (try ConsoleSession(socket: socket, interactive: interactive).run(), interactive)
        }
        switch ending {
        case .detached: StandardError.write("\ndetached")
        case .inputEnded: break
        case .closed: try await explainClose(client, interactive: interactive)
        }
    }

    /// The console closed under vmctl: the VM stopped (success), crashed or left, or the
    /// connection was lost while it runs on (both failures).
    private func explainClose(_ client: HTTPClient, interactive: Bool) async throws {
        let lead = interactive ? "\n" : ""
        let clock = ContinuousClock()
        let deadline = clock.now + Self.endWait
        while true {
            let info: VMInfo
            do {
                info = try await client.get(Routes.vm(name), as: VMInfo.self)
            } catch let error as APIError {
                throw ConsoleError.ended("\(lead)console closed: \(error.message)")
            }
            switch info.state {
            case .stopped:
                StandardError.write("\(lead)console closed: \(name) stopped")
                return
            case .crashed:
                throw ConsoleError.ended("\(lead)console closed: \(name) crashed (vmctl info \(name) says why)")
            default:
                guard clock.now < deadline else {
                    throw ConsoleError.ended("\(lead)console connection lost; \(name) is still \(info.state.rawValue) (attach again: vmctl console \(name))")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}
