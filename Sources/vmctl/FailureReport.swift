import ArgumentParser
import VMMAPI

/// What vmctl prints and returns for an error: one line saying what failed, why, and
/// what to do about it, and the exit status a script can branch on.
struct FailureReport: Equatable {
    let status: ExitStatus
    /// Nil when the failure was already reported (an `ExitCode` thrown on purpose).
    let message: String?

    init(_ error: any Error) {
        switch error {
        case let error as HTTPClientError:
            (status, message) = Self.describe(error)
        case let error as APIError:
            (status, message) = Self.describe(error)
        case let error as ConsoleError:
            (status, message) = (error.status, error.description)
        case let error as ValidationError:
            (status, message) = (.usage, error.message)
        case let error as TLSFilesError:
            (status, message) = (.usage, error.description)
        case let error as ExitCode:
            (status, message) = (ExitStatus(rawValue: error.rawValue) ?? .failure, nil)
        default:
            (status, message) = (.failure, "\(error)")
        }
    }

    private static func describe(_ error: HTTPClientError) -> (ExitStatus, String) {
        switch error {
        case .daemonNotRunning(let endpoint, _) where endpoint.hasPrefix("https://"):
            return (.daemonNotRunning, "\(error) (is vmmd running there with --listen? check --connect or VMCTL_CONNECT)")
        case .daemonNotRunning:
            return (.daemonNotRunning, "\(error) (is vmmd running? systemctl start vmmd; another socket: --socket or VMM_SOCKET)")
        case .tlsFailed:
            return (.permissionDenied,
                    "\(error) (one CA must sign both certificates, and vmmd's must name the host in --connect: scripts/make-certificates.sh)")
        case .connectionFailed(let endpoint, _) where endpoint.hasPrefix("https://"):
            return (.failure, "\(error) (check --connect or VMCTL_CONNECT)")
        case .permissionDenied:
            return (.permissionDenied,
                    "\(error) (run as root, or join the socket's group: sudo usermod -aG kvm $USER, then log in again)")
        case .connectionFailed:
            return (.failure, "\(error) (check --socket or VMM_SOCKET)")
        case .malformedResponse, .unexpectedStatus:
            return (.failure, "\(error) (are vmctl and vmmd the same version?)")
        case .timedOut:
            return (.failure, "\(error)")
        }
    }

    private static func describe(_ error: APIError) -> (ExitStatus, String) {
        switch APIError.Code(rawValue: error.code) {
        case .notFound:
            // The API has one not-found code; its message says whether a snapshot is missing.
            let hint = error.message.contains(" snapshot ") ? "vmctl snapshot list NAME shows a VM's snapshots" : "vmctl list shows the VMs"
            return (.noSuchVM, "\(error.message) (\(hint))")
        case .conflict:
            return (.conflict, "\(error.message) (vmctl list shows each VM's state)")
        case .badRequest, .invalidDefinition, .payloadTooLarge:
            return (.invalidDefinition, error.message)
        case .methodNotAllowed, .requestTimeout, .headersTooLarge:
            // vmctl sends only what the API takes, promptly: a version mismatch or a proxy.
            return (.failure, "\(error.message) (are vmctl and vmmd the same version?)")
        case .forbidden:
            return (.permissionDenied, error.message)
        case .insufficientStorage:
            return (.failure, error.message)
        case .unavailable:
            return (.failure, "\(error.message) (vmmd is starting or stopping; try again)")
        case .internalError, nil:
            return (.failure, "vmmd failed: \(error.message) (journalctl -u vmmd has the details)")
        }
    }
}
