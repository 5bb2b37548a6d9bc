#if canImport(Glibc)
import Glibc
#endif
import CTap
import Synchronization
@testable import VMMCore

// Fixtures for the virtio-net, tap and virtio-rng tests: a driver-side split ring in real
// guest memory, an interrupt recorder, and a network namespace of the test's own so no
// tap or frame ever touches the host's interfaces.

struct NetworkTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What the device reported through `deviceNeedsReset`.
final class ResetRecorder: Sendable {
    private let storage = Mutex<[String]>([])

    var reasons: [String] { storage.withLock { $0 } }
    var callback: @Sendable (String) -> Void { { [self] reason in storage.withLock { $0.append(reason) } } }
}

/// Signals per queue.
final class QueueInterruptRecorder: VirtioInterrupt {
    private let signals = Mutex<[Int: Int]>([:])

    func signalUsedBuffers(queue: Int) { signals.withLock { $0[queue, default: 0] += 1 } }
    func signalConfigurationChange() {}
    func count(queue: Int) -> Int { signals.withLock { $0[queue, default: 0] } }
}

/// A receive ring and a transmit ring for a virtio-net device.
final class VirtioNetworkTestDriver: @unchecked Sendable {
    let memory: GuestMemory
    let receive: TestDriverRing
    let transmit: TestDriverRing
    let interrupt = QueueInterruptRecorder()
    let resets = ResetRecorder()
    private var heap: UInt64 = 0x10_0000

    init() throws {
        memory = try GuestMemory(size: 4 << 20)
        receive = try TestDriverRing(memory: memory, base: 0x1_0000)
        transmit = try TestDriverRing(memory: memory, base: 0x2_0000)
    }

    func activation(features: UInt64) throws -> VirtioActivation {
        VirtioActivation(
            memory: memory, features: features,
            queues: [try receive.makeQueue(features: features), try transmit.makeQueue(features: features)],
            notifiers: [receive.notifier, transmit.notifier], interrupt: interrupt,
            deviceNeedsReset: resets.callback)
    }

    func allocate(_ count: Int, filling bytes: [UInt8] = []) -> UInt64 {
        let address = heap
        heap += UInt64((count + 63) / 64 * 64)
        try! memory.write(bytes, at: address)
        return address
    }

    /// Posts one receive buffer of `length` bytes; returns its head and address.
    @discardableResult
    func postReceive(length: Int, notify: Bool = true) -> (head: UInt16, address: UInt64) {
        let address = allocate(length)
        return (receive.post([.init(address: address, length: UInt32(length), writable: true)], notify: notify), address)
    }

    /// Queues header + frame for transmission, split into two descriptors as Linux does with scatter-gather.
    @discardableResult
    func transmit(frame: [UInt8], header: [UInt8] = [UInt8](repeating: 0, count: 12)) -> UInt16 {
        let headerAddress = allocate(header.count, filling: header)
        let frameAddress = allocate(frame.count, filling: frame)
        return transmit.post([
            .init(address: headerAddress, length: UInt32(header.count), writable: false),
            .init(address: frameAddress, length: UInt32(frame.count), writable: false),
        ])
    }
}

/// An Ethernet frame with a local experimental EtherType, so it is told apart from anything else.
func testFrame(destination: [UInt8], source: [UInt8] = [0x02, 0, 0, 0, 0, 0x99], payload: [UInt8]) -> [UInt8] {
    destination + source + [0x88, 0xb5] + payload
}

/// Waits for `condition` for up to `timeout` seconds.
func eventually(timeout: Double = 5, _ condition: () -> Bool) -> Bool {
    for _ in 0..<Int(timeout * 1000) {
        if condition() { return true }
        usleep(1000)
    }
    return condition()
}

enum NetworkNamespace {
    /// Runs `body` on a new thread that first moves into a network namespace of its own
    /// (`unshare(CLONE_NEWNET)` acts on the calling thread only; threads it starts inherit
    /// it). The thread refuses to run `body` unless it really left the host's namespace.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = Job {
                continuation.resume(with: Result { () throws -> T in
                    try enter()
                    return try body()
                })
            }
            var thread = pthread_t()
            let context = Unmanaged.passRetained(job).toOpaque()
            let result = pthread_create(&thread, nil, { context in
                Unmanaged<Job>.fromOpaque(context!).takeRetainedValue().body()
                return nil
            }, context)
            if result != 0 {
                Unmanaged<Job>.fromOpaque(context).release()
                continuation.resume(throwing: NetworkTestFailure("pthread_create: \(result)"))
            } else {
                pthread_detach(thread)
            }
        }
    }

    private final class Job: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    private static let cloneNewNet: Int32 = 0x4000_0000

    private static func enter() throws {
        let before = link("/proc/thread-self/ns/net")
        typealias Unshare = @convention(c) (Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "unshare") else {
            throw NetworkTestFailure("no unshare in libc")
        }
        guard unsafeBitCast(symbol, to: Unshare.self)(cloneNewNet) == 0 else {
            throw NetworkTestFailure("unshare(CLONE_NEWNET): errno \(errno)")
        }
        let after = link("/proc/thread-self/ns/net")
        guard before != nil, after != nil, before != after, after != link("/proc/self/ns/net") else {
            throw NetworkTestFailure("still in the host's network namespace (\(before ?? "?") → \(after ?? "?"))")
        }
    }

    private static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 128)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Drops CAP_NET_ADMIN from the calling thread's effective set (capabilities are per thread).
    static func dropNetworkAdministration() throws {
        typealias CapabilityCall = @convention(c) (UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Int32
        guard let get = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "capget"),
            let set = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "capset")
        else { throw NetworkTestFailure("no capget/capset in libc") }
        var header: [UInt32] = [0x2008_0522, 0]  // _LINUX_CAPABILITY_VERSION_3, this thread
        var data = [UInt32](repeating: 0, count: 6)  // two of {effective, permitted, inheritable}
        let capNetAdmin: UInt32 = 12
        guard unsafeBitCast(get, to: CapabilityCall.self)(&header, &data) == 0 else {
            throw NetworkTestFailure("capget: errno \(errno)")
        }
        data[0] &= ~(1 << capNetAdmin)
        guard unsafeBitCast(set, to: CapabilityCall.self)(&header, &data) == 0 else {
            throw NetworkTestFailure("capset: errno \(errno)")
        }
    }
}

/// Interface plumbing inside the test's namespace: link state, MTU, offloads, a packet socket.
enum TestInterface {
    private static let setMTU: UInt = 0x8922  // SIOCSIFMTU
    private static let getFlags: UInt = 0x8913  // SIOCGIFFLAGS
    private static let setFlags: UInt = 0x8914  // SIOCSIFFLAGS
    private static let ethtool: UInt = 0x8946  // SIOCETHTOOL
    /// _IOW('T', 203, int)
    static let tunSetPersist: UInt = 0x4004_54cb

    /// Brings `name` up with an MTU below IPv6's minimum, so the kernel sends no IPv6
    /// chatter (router solicitations, MLD) that would land in the guest's buffers.
    static func bringUp(_ name: String) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw NetworkTestFailure("socket: errno \(errno)") }
        defer { close(fd) }
        var request = interfaceRequest(name)
        request.ifr_ifru.ifru_mtu = 1000
        guard ctap_ioctl_pointer(fd, setMTU, &request) == 0 else { throw NetworkTestFailure("SIOCSIFMTU: errno \(errno)") }
        guard ctap_ioctl_pointer(fd, getFlags, &request) == 0 else { throw NetworkTestFailure("SIOCGIFFLAGS: errno \(errno)") }
        request.ifr_ifru.ifru_flags |= 1  // IFF_UP
        guard ctap_ioctl_pointer(fd, setFlags, &request) == 0 else { throw NetworkTestFailure("SIOCSIFFLAGS: errno \(errno)") }
    }

    static func interfaceRequest(_ name: String) -> ifreq {
        var request = ifreq()
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { $0.copyBytes(from: name.utf8.prefix(15)) }
        return request
    }

    /// The names of the interface's active features, as `ethtool -k` lists them.
    static func activeFeatures(_ name: String) throws -> Set<String> {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw NetworkTestFailure("socket: errno \(errno)") }
        defer { close(fd) }
        func call(_ command: inout [UInt32]) throws {
            var request = interfaceRequest(name)
            try command.withUnsafeMutableBytes { bytes in
                request.ifr_ifru.ifru_data = bytes.baseAddress!.assumingMemoryBound(to: CChar.self)
                guard ctap_ioctl_pointer(fd, ethtool, &request) == 0 else {
                    throw NetworkTestFailure("SIOCETHTOOL 0x\(String(bytes.load(as: UInt32.self), radix: 16)): errno \(errno)")
                }
            }
        }
        let featureStrings: UInt32 = 4  // ETH_SS_FEATURES
        var setInfo: [UInt32] = [0x37, 0, 1 << featureStrings, 0, 0]  // ETHTOOL_GSSET_INFO, mask, data[1]
        try call(&setInfo)
        let count = Int(setInfo[4])
        var strings = [UInt32](repeating: 0, count: 3 + count * 8)
        strings[0] = 0x1b  // ETHTOOL_GSTRINGS
        strings[1] = featureStrings
        strings[2] = UInt32(count)
        try call(&strings)
        let blocks = (count + 31) / 32
        var features = [UInt32](repeating: 0, count: 2 + 4 * blocks)
        features[0] = 0x3a  // ETHTOOL_GFEATURES
        features[1] = UInt32(blocks)
        try call(&features)
        let names = strings.withUnsafeBytes { bytes in
            (0..<count).map { index in
                let start = 12 + 32 * index
                return String(decoding: bytes[start..<start + 32].prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        var active = Set<String>()
        for index in 0..<count {
            let block = 2 + 4 * (index / 32)  // {available, requested, active, never_changed}
            let bit = UInt32(1) << UInt32(index % 32)
            if features[block + 2] & bit != 0 { active.insert(names[index]) }
        }
        return active
    }

    /// A raw packet socket on `name`: sees frames the guest sends and sends frames to the guest.
    final class PacketSocket {
        let fd: Int32
        let index: Int32

        init(_ name: String) throws {
            index = Int32(if_nametoindex(name))
            guard index > 0 else { throw NetworkTestFailure("no interface \(name)") }
            let allProtocols = UInt16(0x0003).bigEndian  // ETH_P_ALL
            fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), Int32(allProtocols))
            guard fd >= 0 else { throw NetworkTestFailure("packet socket: errno \(errno)") }
            // struct sockaddr_ll: family, protocol, ifindex, then zeros.
            var address = [UInt8](repeating: 0, count: 20)
            address.withUnsafeMutableBytes { bytes in
                bytes.storeBytes(of: UInt16(AF_PACKET), toByteOffset: 0, as: UInt16.self)
                bytes.storeBytes(of: allProtocols, toByteOffset: 2, as: UInt16.self)
                bytes.storeBytes(of: index, toByteOffset: 4, as: Int32.self)
            }
            let bound = address.withUnsafeBytes {
                bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count))
            }
            guard bound == 0 else {
                close(fd)
                throw NetworkTestFailure("bind packet socket: errno \(errno)")
            }
        }

        deinit { close(fd) }

        func send(_ frame: [UInt8]) throws {
            guard Glibc.send(fd, frame, frame.count, 0) == frame.count else {
                throw NetworkTestFailure("send to tap: errno \(errno)")
            }
        }

        /// The next frame with the test EtherType, or nil after `timeout` seconds.
        func receiveTestFrame(timeout: Double = 3) -> [UInt8]? {
            var buffer = [UInt8](repeating: 0, count: 70_000)
            var waited = 0.0
            while waited < timeout {
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&descriptor, 1, 100) > 0 else {
                    waited += 0.1
                    continue
                }
                let count = recv(fd, &buffer, buffer.count, 0)
                if count >= 14, buffer[12] == 0x88, buffer[13] == 0xb5 { return Array(buffer[0..<count]) }
            }
            return nil
        }
    }
}
