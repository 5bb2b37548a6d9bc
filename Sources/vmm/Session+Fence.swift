#if canImport(Glibc)
import Glibc
#endif
import VMMCore

/// The `fence` control request and the fence's end (docs/cluster.md section 4).
extension Session {
    /// Sets, moves or clears the fence deadline; answers with the time left. A deadline
    /// already passed (the one in force, or the one asked for) stops the VM now.
    func setFence(_ request: FenceRequest) throws(ControlError) -> JSONValue {
        let deadline: Int64?
        switch request {
        case .off: deadline = nil
        case .after(let milliseconds): deadline = FenceTimer.now + Int64(milliseconds) * 1_000_000
        case .until(let nanoseconds): deadline = Int64(nanoseconds)
        }
        let accepted: Bool
        do {
            accepted = try fence.set(deadline)
        } catch {
            throw ControlError(.failed, "cannot set the fence: \(error)")
        }
        // Not accepted means the deadline in force has passed: this stops the VM.
        let passed = fenceIfPassed()
        guard accepted, !passed else {
            throw ControlError(.conflict, "the fence deadline has passed: the VM is being stopped (fenced)")
        }
        return .object([("ok", .bool(true))] + fenceStatus)
    }

    /// `status`'s and `fence`'s `fence_ms`: the milliseconds left, while a fence is set.
    var fenceStatus: [(String, JSONValue)] {
        guard let deadline = fence.deadline else { return [] }
        return [("fence_ms", .integer(Int(max(0, deadline - FenceTimer.now) / 1_000_000)))]
    }

    /// Stops the VM when the fence deadline has passed; true if it had.
    @discardableResult
    func fenceIfPassed() -> Bool {
        guard fence.hasPassed else { return false }
        forceStop(.fenced)
        return true
    }
}
