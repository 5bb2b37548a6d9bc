/// Where the daemon keeps things and whom it serves.
public struct DaemonConfiguration: Sendable {
    /// The REST API's Unix socket.
    public var socketPath: String
    /// Definitions live in `<stateDirectory>/vms/<name>.json`, snapshots and clones' disks
    /// beside them.
    public var stateDirectory: String
    /// Each running VM's sockets, pid file and log live in `<runtimeDirectory>/vms/<name>/`.
    public var runtimeDirectory: String
    /// Members of this group may use the API (besides root).
    public var group: String
    /// The `vmm` executable started for each VM.
    public var vmmPath: String
    /// The API on TCP with mutual TLS as well; nil: the Unix socket only.
    public var listener: TLSListener?
    /// Cluster mode; nil: a single host.
    public var cluster: ClusterConfiguration?
    /// What API clients can make the daemon hold.
    public var apiLimits: APILimits
    /// How much guest RAM and how many vCPUs the daemon may promise.
    public var admission: AdmissionPolicy
    /// Turn the host's same-page merging (KSM) on at start, for VMs with `mergePages`.
    public var enablePageMerging = false
    /// How each `vmm` is jailed; nil: not at all (`--no-jail`, or a daemon not running as root).
    public var jail: JailPolicy?

    public init(
        socketPath: String, stateDirectory: String, runtimeDirectory: String, group: String, vmmPath: String,
        listener: TLSListener? = nil, cluster: ClusterConfiguration? = nil, apiLimits: APILimits = APILimits(),
        admission: AdmissionPolicy = AdmissionPolicy(), jail: JailPolicy? = nil
    ) {
        self.socketPath = socketPath
        self.stateDirectory = stateDirectory
        self.runtimeDirectory = runtimeDirectory
        self.group = group
        self.vmmPath = vmmPath
        self.listener = listener
        self.cluster = cluster
        self.apiLimits = apiLimits
        self.admission = admission
        self.jail = jail
    }

    var definitionsDirectory: String { "\(stateDirectory)/vms" }
    /// Snapshots live in `<stateDirectory>/snapshots/<vm>/<snapshot>/`.
    var snapshotsDirectory: String { "\(stateDirectory)/snapshots" }
    /// The disk copies the daemon makes for clones: `<stateDirectory>/disks/<vm>/disk<i>.img`.
    var disksDirectory: String { "\(stateDirectory)/disks" }
    /// Migrations into this host not finished yet: `<stateDirectory>/migrations/<id>.json`.
    var migrationsDirectory: String { "\(stateDirectory)/migrations" }
    var vmsRuntimeDirectory: String { "\(runtimeDirectory)/vms" }
}
