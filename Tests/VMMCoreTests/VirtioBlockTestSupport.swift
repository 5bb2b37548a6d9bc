#if canImport(Glibc)
import Glibc
#endif
import Synchronization
@testable import VMMCore

// Fixtures for the virtio-blk tests: a temporary raw image, a driver that builds requests
// in real guest memory the way Linux's virtio_blk does, and storage wrappers that record
// or slow down calls.

/// Rejected requests are expected here; their warnings would only clutter the output.
let quietLog = Logger(label: "virtio-blk test", minimumLevel: .error)

/// A raw image file in /tmp, removed when the value goes away.
final class TemporaryImage {
    let path: String

    init(size: Int, fill: UInt8? = nil) {
        var template = Array("/tmp/vmm-blk-test-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        precondition(fd >= 0, "mkstemp: errno \(errno)")
        path = String(cString: template)
        if let fill {
            let bytes = [UInt8](repeating: fill, count: size)
            precondition(pwrite(fd, bytes, size, 0) == size)
        } else {
            precondition(ftruncate(fd, off_t(size)) == 0)
        }
        close(fd)
    }

    deinit { unlink(path) }

    func read(at offset: Int, count: Int) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        precondition(pread(fd, &bytes, count, off_t(offset)) == count)
        return bytes
    }

    func write(_ bytes: [UInt8], at offset: Int) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        defer { close(fd) }
        precondition(pwrite(fd, bytes, bytes.count, off_t(offset)) == bytes.count)
        precondition(fsync(fd) == 0)
    }

    /// Where the next data starts at or after `offset` (SEEK_DATA), or nil if only holes follow.
    func nextData(from offset: Int) -> Int? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        let result = lseek(fd, off_t(offset), 3)  // SEEK_DATA
        return result < 0 ? nil : Int(result)
    }
}

/// Storage calls in the order they began and ended, shared with the used-ring observer.
final class EventLog: Sendable {
    private let events = Mutex<[String]>([])
    func append(_ event: String) { events.withLock { $0.append(event) } }
    var all: [String] { events.withLock { $0 } }

    func index(of event: String) -> Int? { all.firstIndex(of: event) }
}

/// Wraps a real image: logs "read S begin/end", "write S begin/end", "flush begin/end"
/// (S = first sector), can hold each call for `delay` microseconds, and counts how many
/// calls run at once.
final class RecordingStorage: BlockStorage {
    let inner: BlockImage
    let log: EventLog
    let delay: UInt32
    let running = Atomic<Int>(0)
    let mostRunning = Atomic<Int>(0)
    let calls = Atomic<Int>(0)

    init(_ inner: BlockImage, log: EventLog = EventLog(), delay: UInt32 = 0) {
        self.inner = inner
        self.log = log
        self.delay = delay
    }

    var size: UInt64 { inner.size }
    var isReadOnly: Bool { inner.isReadOnly }

    private func record<T>(_ name: String, _ body: () throws(VMMError) -> T) throws(VMMError) -> T {
        calls.add(1, ordering: .relaxed)
        let now = running.add(1, ordering: .relaxed).newValue
        mostRunning.max(now, ordering: .relaxed)
        log.append("\(name) begin")
        defer {
            log.append("\(name) end")
            running.subtract(1, ordering: .relaxed)
        }
        if delay > 0 { usleep(delay) }
        return try body()
    }

    func read(into buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws(VMMError) {
        try record("read \(offset / 512)") { () throws(VMMError) in try inner.read(into: buffers, at: offset) }
    }
    func write(from buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(VMMError) {
        try record("write \(offset / 512)") { () throws(VMMError) in try inner.write(from: buffers, at: offset) }
    }
    func flush() throws(VMMError) {
        try record("flush") { () throws(VMMError) in try inner.flush() }
    }
    func discard(offset: UInt64, length: UInt64) throws(VMMError) {
        try record("discard \(offset / 512)") { () throws(VMMError) in try inner.discard(offset: offset, length: length) }
    }
    func writeZeroes(offset: UInt64, length: UInt64, mayUnmap: Bool) throws(VMMError) {
        try record("write zeroes \(offset / 512)") { () throws(VMMError) in
            try inner.writeZeroes(offset: offset, length: length, mayUnmap: mayUnmap)
        }
    }
}

/// Counts interrupts and runs `onSignal` on each, on the thread that raised it.
final class RecordingVirtioInterrupt: VirtioInterrupt {
    let signals = Atomic<Int>(0)
    let onSignal: @Sendable () -> Void

    init(onSignal: @escaping @Sendable () -> Void = {}) { self.onSignal = onSignal }

    func signalUsedBuffers(queue: Int) {
        signals.add(1, ordering: .relaxed)
        onSignal()
    }
    func signalConfigurationChange() {}
}

/// The driver's side of one request queue in real guest memory. Rings sit at `base`,
/// buffers are bump-allocated above them; every request uses fresh descriptors.
final class VirtioBlockTestDriver: @unchecked Sendable {
    typealias Buffer = TestDriverRing.Buffer

    /// What the driver needs to find a request's results.
    struct Request {
        var head: UInt16
        var data: UInt64
        var status: UInt64
    }

    static let queueSize: UInt16 = 256
    let memory: GuestMemory
    let log: EventLog
    let interrupt: RecordingVirtioInterrupt
    let notifier: EventNotifier
    let resetReasons = LockedValue<[String]>([])
    let layout: Virtqueue.Layout
    private let ring: TestDriverRing
    private var heap: UInt64
    private let seenUsed = LockedValue<UInt16>(0)

    init(memory: GuestMemory, base: UInt64 = 0x10_000, log: EventLog = EventLog()) throws {
        self.memory = memory
        self.log = log
        ring = try TestDriverRing(memory: memory, base: base, size: Self.queueSize)
        layout = ring.layout
        heap = base + 0x4000
        notifier = ring.notifier
        let usedRing = layout.usedRing
        let seenUsed = self.seenUsed
        // Logs each used entry the moment an interrupt reveals it, to compare with storage calls.
        interrupt = RecordingVirtioInterrupt { [memory, log, seenUsed] in
            seenUsed.withLock { seen in
                let index = memory.read(UInt16.self, at: usedRing + 2)!
                while seen != index {
                    let head = memory.read(UInt32.self, at: usedRing + 4 + 8 * UInt64(seen % Self.queueSize))!
                    log.append("used \(head)")
                    seen &+= 1
                }
            }
        }
    }

    func activation(features: UInt64 = 0) throws -> VirtioActivation {
        let queue = try Virtqueue(
            layout: layout, maximumSize: Self.queueSize, memory: memory,
            eventIndex: features & VirtioFeature.eventIndex != 0, indirectDescriptors: true)
        return VirtioActivation(
            memory: memory, features: features, queues: [queue], notifiers: [notifier], interrupt: interrupt,
            deviceNeedsReset: { [resetReasons] reason in resetReasons.withLock { $0.append(reason) } })
    }

    func allocate(_ count: Int) -> UInt64 {
        let address = heap
        heap += UInt64((count + 511) / 512 * 512)
        return address
    }

    /// Chains `buffers` into descriptors, makes the chain available and notifies.
    @discardableResult
    func submit(_ buffers: [Buffer], notify: Bool = true) -> UInt16 {
        ring.post(buffers, notify: notify)
    }

    /// A request laid out as Linux does: header, data (device-readable for `out`,
    /// device-writable `inLength` bytes otherwise), status byte preset to 0xff.
    @discardableResult
    func send(type: UInt32, sector: UInt64 = 0, out: [UInt8] = [], inLength: Int = 0, notify: Bool = true)
        -> Request
    {
        let header = allocate(16)
        try! memory.write(type, at: header)
        try! memory.write(UInt32(0), at: header + 4)
        try! memory.write(sector, at: header + 8)
        var buffers = [Buffer(address: header, length: 16, writable: false)]
        var data: UInt64 = 0
        if !out.isEmpty {
            data = allocate(out.count)
            try! memory.write(out, at: data)
            buffers.append(Buffer(address: data, length: UInt32(out.count), writable: false))
        } else if inLength > 0 {
            data = allocate(inLength)
            buffers.append(Buffer(address: data, length: UInt32(inLength), writable: true))
        }
        let status = allocate(1)
        try! memory.write(UInt8(0xff), at: status)
        buffers.append(Buffer(address: status, length: 1, writable: true))
        return Request(head: submit(buffers, notify: notify), data: data, status: status)
    }

    /// Discard or write-zeroes segments {sector, num_sectors, flags}.
    @discardableResult
    func sendSegments(type: UInt32, _ segments: [(sector: UInt64, sectors: UInt32, flags: UInt32)]) -> Request {
        var payload = ImageBytes(count: 16 * segments.count)
        for (index, segment) in segments.enumerated() {
            payload.set(segment.sector, at: 16 * index)
            payload.set(segment.sectors, at: 16 * index + 8)
            payload.set(segment.flags, at: 16 * index + 12)
        }
        return send(type: type, out: payload.bytes)
    }

    /// The used-ring length for `head`, waiting up to five seconds for it.
    func waitForCompletion(of head: UInt16) -> UInt32? {
        for _ in 0..<5000 {
            if let written = usedLength(of: head) { return written }
            usleep(1000)
        }
        return nil
    }

    /// Sends and waits: the status byte and the used length.
    func perform(type: UInt32, sector: UInt64 = 0, out: [UInt8] = [], inLength: Int = 0)
        -> (status: UInt8, written: UInt32?, data: [UInt8])
    {
        let request = send(type: type, sector: sector, out: out, inLength: inLength)
        return result(of: request, inLength: inLength)
    }

    func result(of request: Request, inLength: Int = 0) -> (status: UInt8, written: UInt32?, data: [UInt8]) {
        let written = waitForCompletion(of: request.head)
        let data = inLength > 0 ? memory.readBytes(at: request.data, count: inLength)! : []
        return (memory.read(UInt8.self, at: request.status)!, written, data)
    }

    var usedIndex: UInt16 { memory.read(UInt16.self, at: layout.usedRing + 2)! }

    private func usedLength(of head: UInt16) -> UInt32? {
        let index = usedIndex
        for slot in 0..<Int(index) where slot < Int(Self.queueSize) {
            let entry = layout.usedRing + 4 + 8 * UInt64(slot)
            if memory.read(UInt32.self, at: entry) == UInt32(head) { return memory.read(UInt32.self, at: entry + 4) }
        }
        return nil
    }
}

/// A `Mutex` in a class, so that closures can share it.
final class LockedValue<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<Result>(_ body: (inout Value) -> Result) -> Result { mutex.withLock { body(&$0) } }
}

enum BlockRequestType {
    static let read: UInt32 = 0
    static let write: UInt32 = 1
    static let flush: UInt32 = 4
    static let getID: UInt32 = 8
    static let discard: UInt32 = 11
    static let writeZeroes: UInt32 = 13
}

enum BlockStatus {
    static let ok: UInt8 = 0
    static let ioError: UInt8 = 1
    static let unsupported: UInt8 = 2
}
