import Foundation
import NIOHTTP1

/// The changes to one key or to every key under a prefix, from a revision on, in revision
/// order, for as long as it is iterated.
///
/// It reads `/v3/watch` (one JSON object per line) from one member; when that member dies,
/// ends the stream or loses its leader (`Grpc-Metadata-hasleader: true` makes etcd cancel the
/// watch then), it watches again on the next member from the revision after the last event
/// seen, so no change is lost or repeated. It ends only by cancellation, or with
/// ``EtcdError/compacted(revision:)`` when the history it needs is gone.
public struct EtcdWatch: AsyncSequence, Sendable {
    public typealias Element = EtcdWatchEvent

    private let client: EtcdClient
    private let key: String
    private let prefix: Bool
    private let startRevision: Int64
    private let previousValues: Bool

    /// Watches `key` (every key starting with it when `prefix`) from `revision` (0: from
    /// now); with `previousValues` each event carries the key as it was before.
    public init(_ client: EtcdClient, key: String, prefix: Bool = false, fromRevision revision: Int64 = 0, previousValues: Bool = false) {
        self.client = client
        self.key = key
        self.prefix = prefix
        startRevision = revision
        self.previousValues = previousValues
    }

    public func makeAsyncIterator() -> AsyncThrowingStream<EtcdWatchEvent, any Error>.AsyncIterator {
        AsyncThrowingStream { continuation in
            let task = Task { await run(continuation) }
            continuation.onTermination = { _ in task.cancel() }
        }.makeAsyncIterator()
    }

    /// How long to wait before going round the members again when none of them watches.
    private static let retryPause: Duration = .milliseconds(200)

    private func run(_ continuation: AsyncThrowingStream<EtcdWatchEvent, any Error>.Continuation) async {
        var next = startRevision
        var member = client.preferredMember
        var failuresInARow = 0
        while !Task.isCancelled {
            do {
                let delivered = try await watch(on: member, from: next) { event in
                    next = event.keyValue.modRevision + 1
                    continuation.yield(event)
                }
                failuresInARow = delivered ? 0 : failuresInARow + 1
            } catch let error as EtcdError {
                if case .compacted = error {
                    continuation.finish(throwing: error)
                    return
                }
                failuresInARow += 1
            } catch {
                failuresInARow += 1
            }
            member = (member + 1) % client.members.count
            if failuresInARow >= client.members.count {
                try? await Task.sleep(for: Self.retryPause)
            }
        }
        continuation.finish()
    }

    /// Watches on one member until its stream ends; returns whether the watch got going.
    private func watch(on member: Int, from revision: Int64, _ deliver: (EtcdWatchEvent) -> Void) async throws -> Bool {
        let request = EtcdWire.WatchRequest(create_request: .init(
            key: EtcdWire.base64(key), range_end: prefix ? EtcdWire.base64(EtcdClient.rangeEnd(ofPrefix: key)) : nil,
            start_revision: revision > 0 ? .init(revision) : nil, prev_kv: previousValues))
        let lines = client.members[member].stream(
            .POST, "/v3/watch", body: Array(try JSONEncoder().encode(request)), headers: [("Grpc-Metadata-hasleader", "true")],
            timeout: client.timeout.timeAmount)
        var started = false
        for try await line in lines {
            let message = try EtcdClient.decode(EtcdWire.WatchMessage.self, from: Array(line.utf8))
            if let error = message.error {
                throw EtcdError.refused(code: error.grpc_code ?? 0, message: error.message ?? line)
            }
            guard let result = message.result else { continue }
            if let compacted = result.compact_revision?.value, compacted > 0 { throw EtcdError.compacted(revision: compacted) }
            if result.canceled == true { return started }
            started = true
            for event in result.events ?? [] {
                guard let keyValue = try event.kv?.decoded() else { continue }
                deliver(EtcdWatchEvent(
                    kind: event.type == "DELETE" ? .delete : .put, keyValue: keyValue, previous: try event.prev_kv?.decoded()))
            }
        }
        return started
    }
}
