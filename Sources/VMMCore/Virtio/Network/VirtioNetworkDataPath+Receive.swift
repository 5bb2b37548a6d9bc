#if canImport(Glibc)
import Glibc
#endif

extension VirtioNetworkDataPath {
    /// Moves frames from the tap into receive buffers until the tap is empty or the
    /// buffers run out; then the tap is not polled again until the driver adds buffers.
    func receiveAll() {
        guard let receive, !tapFailed else { return }
        let usedBefore = receive.usedIndex
        defer { interruptIfNeeded(receive, index: Self.receiveQueue, usedBefore: usedBefore) }
        receiveThrottled = false
        while !failed {
            if let wait = receiveLimiter.delay() {
                receiveTimer.arm(nanoseconds: wait)
                receiveThrottled = true
                return
            }
            guard gatherReceiveBuffers(from: receive) else {
                waitingForReceiveBuffers = !failed
                return
            }
            let capacities = prepareReceiveVectors()
            let count = readv(tap.fileDescriptor, vectors, Int32(vectors.count))
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK { return }
                // E.g. the persistent tap was deleted: its descriptor would poll as ready forever.
                log.warning("tap \(tap.name): read failed (\(String(cString: strerror(code)))); receiving stops until the device is reset")
                tapFailed = true
                return
            }
            receiveLimiter.consume(bytes: max(count - TapDevice.headerSize, 0))
            deliver(frameLength: count, capacities: capacities, to: receive)
        }
    }

    /// Takes chains until there is room for the largest frame (one chain without
    /// mergeable buffers); false if the driver has not posted enough.
    private func gatherReceiveBuffers(from queue: Virtqueue) -> Bool {
        while needsMoreReceiveBuffers(queue),
            let chain = nextChain(from: queue, name: "receive queue")
        {
            let usable = chain.writable.prefix(Self.maximumIOVectors - 1).reduce(0) { $0 + $1.count }
            guard usable >= TapDevice.headerSize else {
                // Too small for even the header (the spec forbids it): give it back unused.
                queue.addUsed(head: chain.head, written: 0)
                continue
            }
            pendingReceive.append(chain)
            pendingReceiveSpace += chain.writableCount
            pendingReceiveBuffers += chain.writable.count
        }
        return !failed && !pendingReceive.isEmpty && !needsMoreReceiveBuffers(queue)
    }

    private func needsMoreReceiveBuffers(_ queue: Virtqueue) -> Bool {
        guard mergeable else { return pendingReceive.isEmpty }
        // Holding every slot of the ring, the driver cannot post more: make do.
        return pendingReceiveSpace < receiveSpaceWanted && pendingReceiveBuffers < Self.maximumIOVectors
            && pendingReceive.count < Int(queue.layout.size)
    }

    /// Fills `vectors` from the pending chains, then the overflow byte; returns how much
    /// of each chain they cover.
    private func prepareReceiveVectors() -> [Int] {
        vectors.removeAll(keepingCapacity: true)
        let capacities = pendingReceive.map { chain in
            var capacity = 0
            for buffer in chain.writable where vectors.count < Self.maximumIOVectors - 1 {
                vectors.append(iovec(iov_base: buffer.bytes.baseAddress, iov_len: buffer.count))
                capacity += buffer.count
            }
            return capacity
        }
        vectors.append(iovec(iov_base: overflowByte, iov_len: 1))
        return capacities
    }

    /// Hands a frame `readv` put into the pending chains to the driver.
    private func deliver(frameLength: Int, capacities: [Int], to queue: Virtqueue) {
        // Reaching the overflow byte means the frame was cut short.
        guard frameLength >= TapDevice.headerSize, frameLength <= capacities.reduce(0, +) else {
            counters.receiveDrops += 1
            return
        }
        var written: [Int] = []
        var remaining = frameLength
        while remaining > 0 {
            let take = min(remaining, capacities[written.count])
            written.append(take)
            remaining -= take
        }
        let numberOfBuffers = UInt16(written.count)
        pendingReceive[0].write([UInt8(truncatingIfNeeded: numberOfBuffers), UInt8(numberOfBuffers >> 8)], offset: 10)
        for (chain, count) in zip(pendingReceive, written) {
            queue.addUsed(head: chain.head, written: UInt32(count))
            pendingReceiveSpace -= chain.writableCount
            pendingReceiveBuffers -= chain.writable.count
        }
        pendingReceive.removeFirst(written.count)
        counters.receivedPackets += 1
        counters.receivedBytes += UInt64(frameLength - TapDevice.headerSize)
    }
}
