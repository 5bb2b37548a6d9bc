import Foundation
import Testing

/// Follows the minimal Linux guest's virtio-balloon driver through `status` while the guest
/// boots: once it holds the target vmm started with, a new target is set on the running VM.
struct LinuxBalloonWatch {
    let control: String
    let bootTarget: Int
    let runningTarget: Int
    private(set) var reachedBootTarget = false
    private(set) var last: [String: Any]?
    private var connection: UnixSocketConnection?

    init(control: String, bootTarget: Int, runningTarget: Int) {
        self.control = control
        self.bootTarget = bootTarget
        self.runningTarget = runningTarget
    }

    mutating func poll() {
        if connection == nil { connection = try? UnixSocketConnection(path: control) }
        guard let balloon = connection?.request("status")?["balloon"] as? [String: Any] else { return }
        last = balloon
        if !reachedBootTarget, balloon["actual"] as? Int == bootTarget {
            reachedBootTarget = true
            #expect(connection?.request("balloon \(runningTarget)")?["ok"] as? Bool == true)
        }
    }

    func expectFollowedBothTargets() {
        let balloon = last ?? [:]
        #expect(reachedBootTarget, "the driver did not inflate to the boot target before /init: \(balloon)")
        #expect(balloon["driver_ready"] as? Bool == true, "\(balloon)")
        #expect(balloon["target"] as? Int == runningTarget, "\(balloon)")
        #expect(balloon["actual"] as? Int == runningTarget, "the driver did not follow the new target before /init: \(balloon)")
        #expect(balloon["inflated"] as? Int == runningTarget, "\(balloon)")
        #expect(balloon["refused_pages"] as? Int == 0, "\(balloon)")
        // The driver reports the free memory it finds after it registered (2 MiB blocks).
        #expect(balloon["reported"] as? Int ?? 0 >= 64 << 20, "free page reporting: \(balloon)")
        let stats = balloon["stats"] as? [String: Any] ?? [:]
        let total = stats["total_memory"] as? Int ?? 0
        #expect(total > 300 << 20 && total <= 384 << 20, "the guest's statistics: \(stats)")
        #expect(stats["free_memory"] as? Int ?? 0 > 0, "\(stats)")
    }
}
