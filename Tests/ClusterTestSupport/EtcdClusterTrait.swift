import Testing

/// Gives a suite one etcd cluster, started before its first test and torn down after its
/// last (also when a test fails): tests read it from ``EtcdCluster/current``. Starting a
/// cluster takes seconds, so a suite shares one; mark the suite `.serialized` when its
/// tests stop members.
public struct EtcdClusterTrait: SuiteTrait, TestScoping {
    let members: Int
    let tls: Bool

    public var isRecursive: Bool { false }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let cluster = try await EtcdCluster.start(members: members, tls: tls)
        defer { cluster.tearDown() }
        try await EtcdCluster.$current.withValue(cluster) { try await function() }
    }
}

extension Trait where Self == EtcdClusterTrait {
    /// A real etcd cluster of `members` members for the suite (see ``EtcdClusterTrait``);
    /// with `tls`, clients need ``EtcdCluster/clientTLS``.
    public static func etcdCluster(members: Int = 3, tls: Bool = false) -> Self { EtcdClusterTrait(members: members, tls: tls) }
}

extension EtcdCluster {
    /// The cluster of the running suite's ``EtcdClusterTrait``.
    @TaskLocal public static var current: EtcdCluster?
}
