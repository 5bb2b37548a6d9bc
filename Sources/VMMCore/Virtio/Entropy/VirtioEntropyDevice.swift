#if canImport(Glibc)
import Glibc
#endif
import CTap
import Synchronization

/// virtio-rng (virtio 1.x §5.4): one request queue whose buffers the device fills with
/// bytes from the kernel's CSPRNG (`getrandom`).
public final class VirtioEntropyDevice: VirtioDevice {
    public let deviceType = VirtioDeviceType.entropy
    public let features: UInt64 = VirtioFeature.eventIndex | VirtioFeature.indirectDescriptors
    public let queueMaximumSizes: [UInt16] = [256]

    /// The most one request gets, so one greedy chain cannot hold up the worker.
    public static let largestRequest = 64 * 1024

    private let worker = Mutex<DeviceWorker?>(nil)
    private let log: Logger

    public init(log: Logger) {
        self.log = log
    }

    /// virtio-rng has no configuration structure.
    public func readConfiguration(offset: Int, size: Int) -> UInt32 { 0 }

    public func writeConfiguration(offset: Int, size: Int, value: UInt32) {}

    public func activate(_ activation: VirtioActivation) throws(VMMError) {
        guard activation.queues.count == 1, activation.notifiers.count == 1 else {
            throw .invalidConfiguration("virtio-rng: activated with \(activation.queues.count) queues, not 1")
        }
        reset()
        guard let queue = activation.queues[0] else { return }
        let server = RequestServer(queue: queue, activation: activation, log: log)
        let notifier = activation.notifiers[0]
        let started = try DeviceWorker(
            name: "virtio-rng", sources: { queue.isBroken ? [] : [notifier.fileDescriptor] },
            handler: { _ in
                notifier.wait()
                server.serve()
            })
        worker.withLock { $0 = started }
    }

    public func reset() {
        worker.withLock { $0.take() }?.stop()
    }

    /// The queue's state; only the worker thread touches it.
    private final class RequestServer: @unchecked Sendable {
        let queue: Virtqueue
        let activation: VirtioActivation
        let log: Logger
        var servedAny = false

        init(queue: Virtqueue, activation: VirtioActivation, log: Logger) {
            self.queue = queue
            self.activation = activation
            self.log = log
        }

        func serve() {
            let usedBefore = queue.usedIndex
            while true {
                let chain: DescriptorChain
                do throws(VirtqueueError) {
                    guard let next = try queue.nextChain() else { break }
                    chain = next
                } catch {
                    activation.deviceNeedsReset("virtio-rng: \(error)")
                    break
                }
                let written = fill(chain)
                // Proof, without guest user space, that the guest's driver draws on the device.
                if !servedAny { log.info("virtio-rng: first request served (\(written) bytes)") }
                servedAny = true
                queue.addUsed(head: chain.head, written: UInt32(written))
            }
            if queue.usedIndex != usedBefore, queue.needsInterrupt() { activation.interrupt.signalUsedBuffers(queue: 0) }
        }

        /// Fills the chain's writable buffers, up to `largestRequest` bytes in all.
        private func fill(_ chain: DescriptorChain) -> Int {
            var written = 0
            for buffer in chain.writable where written < VirtioEntropyDevice.largestRequest {
                let wanted = min(buffer.count, VirtioEntropyDevice.largestRequest - written)
                var filled = 0
                while filled < wanted {
                    let result = getrandom(buffer.bytes.baseAddress! + filled, wanted - filled, 0)
                    if result < 0 {
                        if errno == EINTR { continue }
                        return written + filled
                    }
                    filled += result
                }
                written += filled
            }
            return written
        }
    }
}
