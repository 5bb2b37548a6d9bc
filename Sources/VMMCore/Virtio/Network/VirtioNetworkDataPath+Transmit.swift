#if canImport(Glibc)
import Glibc
#endif

extension VirtioNetworkDataPath {
    /// Sends every frame the driver queued; each chain is header + frame, which the tap
    /// takes as is (the header becomes its vnet header: checksum and segmentation hints).
    func transmitAll() {
        guard let transmit else { return }
        let usedBefore = transmit.usedIndex
        transmitThrottled = false
        while true {
            if let wait = transmitLimiter.delay() {
                transmitTimer.arm(nanoseconds: wait)
                transmitThrottled = true
                break
            }
            guard let chain = nextChain(from: transmit, name: "transmit queue") else { break }
            transmitLimiter.consume(bytes: max(chain.readableCount - TapDevice.headerSize, 0))
            send(chain)
            transmit.addUsed(head: chain.head, written: 0)
        }
        interruptIfNeeded(transmit, index: Self.transmitQueue, usedBefore: usedBefore)
    }

    private func send(_ chain: DescriptorChain) {
        let length = chain.readableCount
        guard length >= TapDevice.headerSize, length <= Self.largestTransmitChain,
            chain.readable.count <= Self.maximumIOVectors
        else {
            counters.transmitDrops += 1
            return
        }
        vectors.removeAll(keepingCapacity: true)
        for buffer in chain.readable { vectors.append(iovec(iov_base: buffer.bytes.baseAddress, iov_len: buffer.count)) }
        var result: Int
        repeat {
            result = writev(tap.fileDescriptor, vectors, Int32(vectors.count))
        } while result < 0 && errno == EINTR
        // The kernel refuses a malformed vnet header (EINVAL); that is the guest's frame lost.
        guard result >= 0 else {
            counters.transmitDrops += 1
            return
        }
        counters.transmittedPackets += 1
        counters.transmittedBytes += UInt64(length - TapDevice.headerSize)
    }
}
