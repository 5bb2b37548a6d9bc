/// `GET /v1/host`: what this host offers and how many VMs it runs.
public struct HostInfo: Codable, Equatable, Sendable {
    public struct KVM: Codable, Equatable, Sendable {
        public var apiVersion: Int
        public var maxVCPUs: Int
        public var recommendedVCPUs: Int
        /// Software virtualization nested in a cloud VM (no guest user space for Linux).
        public var pvm: Bool

        public init(apiVersion: Int, maxVCPUs: Int, recommendedVCPUs: Int, pvm: Bool) {
            self.apiVersion = apiVersion
            self.maxVCPUs = maxVCPUs
            self.recommendedVCPUs = recommendedVCPUs
            self.pvm = pvm
        }
    }

    public var kvm: KVM
    public var cpus: Int
    public var memory: UInt64
    /// VM counts by state name; every state is present.
    public var vms: [String: Int]
    public var version: String
    /// MemAvailable: what new VMs (or VMs migrating here) can still get.
    public var availableMemory: UInt64?
    /// `normal`, or `draining`: new starts are refused until `POST /v1/host/undrain`.
    public var mode: String?
    /// The last drain's progress or outcome, while the host is draining.
    public var drain: HostDrainReport?
    /// In cluster mode (`vmmd --cluster`): this host's name and the cluster's hosts.
    public var cluster: ClusterInfo?
    /// Guest RAM and vCPUs promised to the VMs here, against what may be promised.
    public var committed: HostCommitment?
    /// Same-page merging (KSM); nil when the kernel has none.
    public var ksm: HostPageMerging?

    public init(
        kvm: KVM, cpus: Int, memory: UInt64, vms: [String: Int], version: String, availableMemory: UInt64? = nil,
        mode: String? = nil, drain: HostDrainReport? = nil, cluster: ClusterInfo? = nil, committed: HostCommitment? = nil,
        ksm: HostPageMerging? = nil
    ) {
        self.kvm = kvm
        self.cpus = cpus
        self.memory = memory
        self.vms = vms
        self.version = version
        self.availableMemory = availableMemory
        self.mode = mode
        self.drain = drain
        self.cluster = cluster
        self.committed = committed
        self.ksm = ksm
    }
}
