import Foundation
import Glibc
import Logging
import VMMAPI

/// One cgroup v2 node per `vmm`, the systemd way: with `Delegate=yes` the unit's cgroup is
/// the daemon's to manage, and since a node with children may not hold processes once
/// controllers are enabled ("no internal processes"), the daemon moves itself into
/// `<unit>/daemon` and puts each VM's `vmm` into `<unit>/vms/<name>`. A VM's cgroup is
/// not the daemon's, so stopping or restarting the daemon leaves it alone, and later
/// limits (cpu.max, memory.max) have a node to go on.
///
/// The daemon's cgroup counts as delegated when systemd marked it (`trusted.delegate`
/// xattr), or, outside systemd, when it is a non-root cgroup that holds only the daemon
/// (someone made it for it). Anything else (the root cgroup, a shared session scope, no
/// cgroup v2 mount, no permission) falls back: VMs share the daemon's cgroup, logged once.
struct CgroupPlacement: Sendable {
    /// `<unit>`: holds `daemon/` and `vms/`; nil when VMs share the daemon's cgroup.
    let base: String?
    /// Why there is no base (for the log and tests).
    let fallbackReason: String?
    /// Where VMs' CPU and memory limits go, or why they cannot.
    var resources: Result<ResourceControllers, Reason> = .failure(Reason(message: "not looked for"))

    var vmsDirectory: String? { base.map { "\($0)/vms" } }

    /// The cgroup for VM `name` (whether or not it exists).
    func path(forVM name: String) -> String? {
        vmsDirectory.map { "\($0)/\(name)" }
    }

    /// Finds the daemon's cgroup, claims it if it is delegated (moving the daemon into
    /// `daemon/`), and logs what it did once.
    /// `instance` (the runtime directory) tells this daemon's v1 folders from another's.
    static func setUp(instance: String, logger: Logger) -> CgroupPlacement {
        var placement: CgroupPlacement
        switch claim() {
        case .success(let base):
            logger.info("cgroups: VMs go to \(base)/vms/NAME, the daemon is in \(base)/daemon")
            placement = CgroupPlacement(base: base, fallbackReason: nil)
        case .failure(let reason):
            logger.notice("cgroups: not delegated (\(reason.message)), VMs share the daemon's cgroup")
            placement = CgroupPlacement(base: nil, fallbackReason: reason.message)
        }
        placement.resources = ResourceControllers.find(vmsDirectory: placement.vmsDirectory, instance: instance)
        switch placement.resources {
        case .success(let controllers): logger.info("cgroups: VM limits (cpus, cpuWeight, memoryLimit) go to \(controllers.layout)")
        case .failure(let reason): logger.notice("cgroups: VM limits cannot be set: \(reason.message)")
        }
        return placement
    }

    /// Puts VM `name`'s `vmm` (`pid`, right after `place`; nil for a running VM whose limits
    /// change) under `limits`; nil limits for a new process need nothing. A message saying
    /// why when they cannot hold.
    func limit(_ pid: pid_t?, vm name: String, limits: VMLimits?, guestMemory: UInt64) -> String? {
        guard limits != nil || pid == nil else { return nil }
        switch resources {
        case .success(let controllers):
            return controllers.apply(limits ?? VMLimits(), guestMemory: guestMemory, pid: pid, vm: name)
        case .failure(let reason):
            return limits == nil ? nil : "limits need the cpu and memory cgroup controllers: \(reason.message)"
        }
    }

    /// Moves `pid` (a `vmm` just spawned) into the VM's own cgroup. Failure is logged and
    /// not fatal: the VM runs in the daemon's cgroup then.
    func place(_ pid: pid_t, vm name: String, logger: Logger) {
        guard let vms = vmsDirectory, let cgroup = path(forVM: name) else { return }
        if mkdir(vms, 0o755) != 0, errno != EEXIST {
            logger.warning("cgroups: cannot create \(vms): \(Linux.errorMessage); VM \(name) stays in the daemon's cgroup")
            return
        }
        if mkdir(cgroup, 0o755) != 0, errno != EEXIST {
            logger.warning("cgroups: cannot create \(cgroup): \(Linux.errorMessage); VM \(name) stays in the daemon's cgroup")
            return
        }
        if let error = Self.write("\(pid)\n", to: "\(cgroup)/cgroup.procs") {
            logger.warning("cgroups: cannot move vmm pid \(pid) to \(cgroup): \(error)")
        }
    }

    /// Removes the VM's cgroup once its `vmm` has ended (it fails, harmlessly, while a
    /// process is still inside).
    func release(vm name: String, logger: Logger) {
        if case .success(let controllers) = resources { controllers.release(vm: name) }
        guard let cgroup = path(forVM: name) else { return }
        if rmdir(cgroup) != 0, errno != ENOENT {
            logger.warning("cgroups: cannot remove \(cgroup): \(Linux.errorMessage)")
        }
    }

    // MARK: Finding and claiming the daemon's cgroup

    struct Reason: Error { let message: String }

    private static func claim() -> Result<String, Reason> {
        guard let mount = cgroup2Mount() else { return .failure(Reason(message: "no cgroup v2 hierarchy is mounted")) }
        guard let own = ownCgroup() else { return .failure(Reason(message: "no cgroup v2 entry in /proc/self/cgroup")) }
        guard own != "/" else { return .failure(Reason(message: "vmmd runs in the root cgroup")) }
        let current = mount + own
        let parent = (current as NSString).deletingLastPathComponent
        // A daemon that already moved itself (e.g. started again in the same place).
        if (current as NSString).lastPathComponent == "daemon", FileManager.default.fileExists(atPath: "\(parent)/vms") {
            return .success(parent)
        }
        let marked = hasAttribute(current, "trusted.delegate") || hasAttribute(current, "user.delegate")
        if !marked {
            if ProcessInfo.processInfo.environment["INVOCATION_ID"]?.isEmpty == false {
                return .failure(Reason(message: "\(current) is a systemd unit's cgroup without Delegate=yes"))
            }
            let others = processes(in: current).filter { $0 != getpid() }
            guard others.isEmpty else {
                return .failure(Reason(message: "\(current) holds \(others.count) other process(es)"))
            }
        }
        guard access(current, W_OK) == 0 else {
            return .failure(Reason(message: "\(current) is not writable"))
        }
        let daemon = "\(current)/daemon"
        if mkdir(daemon, 0o755) != 0, errno != EEXIST {
            return .failure(Reason(message: "cannot create \(daemon): \(Linux.errorMessage)"))
        }
        if let error = write("\(getpid())\n", to: "\(daemon)/cgroup.procs") {
            rmdir(daemon)
            return .failure(Reason(message: "cannot move vmmd to \(daemon): \(error)"))
        }
        if mkdir("\(current)/vms", 0o755) != 0, errno != EEXIST {
            return .failure(Reason(message: "cannot create \(current)/vms: \(Linux.errorMessage)"))
        }
        return .success(current)
    }

    /// Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup`, or
    /// `/sys/fs/cgroup/unified` on a hybrid host), from /proc/self/mountinfo.
    static func cgroup2Mount() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2, halves[1].hasPrefix("cgroup2 ") else { continue }
            let fields = halves[0].split(separator: " ")
            // Only a mount of the hierarchy's root maps /proc/self/cgroup paths directly.
            guard fields.count >= 5, fields[3] == "/" else { continue }
            return String(fields[4])
        }
        return nil
    }

    /// This process's cgroup v2 path (the `0::PATH` line of /proc/self/cgroup).
    static func ownCgroup() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("0::") {
            let path = String(line.dropFirst(3))
            return path.hasSuffix(" (deleted)") ? nil : path
        }
        return nil
    }

    private typealias GetXattr = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int

    /// Whether `path` has the extended attribute `name` (how systemd marks a delegated
    /// cgroup). <sys/xattr.h> is not in Swift's Glibc module: found with `dlsym`.
    private static func hasAttribute(_ path: String, _ name: String) -> Bool {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "getxattr") else { return false }
        return unsafeBitCast(symbol, to: GetXattr.self)(path, name, nil, 0) > 0
    }

    private static func processes(in cgroup: String) -> [pid_t] {
        guard let text = try? String(contentsOfFile: "\(cgroup)/cgroup.procs", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { pid_t($0) }
    }

    /// Writes `text` to a cgroup control file in one write; an error message, or nil.
    static func write(_ text: String, to file: String) -> String? {
        let fd = open(file, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return Linux.errorMessage }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return Glibc.write(fd, bytes, bytes.count) == bytes.count ? nil : Linux.errorMessage
    }
}
