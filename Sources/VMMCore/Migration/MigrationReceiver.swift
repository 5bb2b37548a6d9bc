#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The destination's end of a migration stream: checks the `hello`, fills fresh guest
/// memory from `memory` frames, takes the `state`, then (once the caller built the
/// machine) `ready`, `go`, `resumed`.
///
/// Everything the source sends is checked before use: every address and length against
/// the VM's memory, every frame's size against the limit; a bad stream fails this
/// migration, nothing else.
public final class MigrationReceiver: Sendable {
    /// What the stream delivered: enough to build the machine.
    public struct Incoming: Sendable {
        public let hello: MigrationHello
        /// The hello's configuration with this side's disks and NICs.
        public let configuration: MachineConfiguration
        let saved: SavedMachineState
        let memory: GuestMemory
    }

    /// Why the destination stopped: `refused` when the VM cannot run here (status 2).
    public enum Failure: Error, CustomStringConvertible {
        case refused(String)
        case failed(String)

        public var description: String {
            switch self {
            case .refused(let message), .failed(let message): message
            }
        }
    }

    static let goTimeout = 30.0

    private let channel: Mutex<MigrationChannel?>
    private let cancelled = AtomicFlag()
    private let progress = Mutex(MigrationProgress(phase: .receiving))
    private let listener: UnixListener
    private let builder: MachineBuilder
    private let connectTimeout: Double

    /// `connectTimeout`: seconds to wait for the source before giving up.
    public init(listener: UnixListener, builder: MachineBuilder, connectTimeout: Double) {
        self.listener = listener
        self.builder = builder
        self.connectTimeout = connectTimeout
        channel = Mutex(nil)
    }

    public var currentProgress: MigrationProgress { progress.withLock { $0 } }

    /// Ends the migration from another thread (SIGTERM, `stop`): the calls below fail.
    public func cancel() {
        cancelled.set()
        channel.withLock { $0 }?.cancel()
    }

    /// Waits for the source, then receives everything up to the state. `configure` gives
    /// the configuration to build from the hello's (this side's disks and NICs) or throws
    /// why the VM cannot run here, which the source is told.
    public func receive(
        configure: (SnapshotDescription) throws(VMMError) -> MachineConfiguration
    ) throws(Failure) -> Incoming {
        let connection: MigrationChannel
        do throws(VMMError) {
            connection = try MigrationChannel.accept(on: listener, timeout: connectTimeout, isCancelled: { cancelled.isSet })
        } catch {
            throw .failed("no migration source connected: \(error)")
        }
        listener.remove()
        channel.withLock { $0 = connection }
        if cancelled.isSet { connection.cancel() }
        let (hello, configuration, disks) = try handshake(connection, configure: configure)
        do throws(VMMError) {
            let memory = try GuestMemory(size: configuration.memorySize, mergeable: configuration.mergePages)
            let saved = try receiveStream(connection, into: memory, disks: disks, hello: hello)
            try disks?.finish()
            return Incoming(hello: hello, configuration: configuration, saved: saved, memory: memory)
        } catch {
            throw abort(connection, "the migration stream failed: \(error)")
        }
    }

    /// Tells the source the VM is built and waits for `go`; throws if the source gives up
    /// or goes away (then the VM must never run here).
    public func ready() throws(Failure) {
        guard let connection = channel.withLock({ $0 }) else { throw .failed("no migration source") }
        do throws(VMMError) {
            try connection.send(.ready)
            let (kind, payload) = try connection.receive(timeout: Self.goTimeout)
            if kind == .abort { throw .invalidSnapshot("the source gave up: \(MigrationSender.text(payload))") }
            guard kind == .go else { throw .invalidSnapshot("the source sent '\(kind)' where 'go' was expected") }
        } catch {
            throw .failed("the migration did not commit: \(error)")
        }
    }

    /// Tells the source the guest runs here; a source that went away meanwhile is fine.
    public func resumed() {
        try? channel.withLock({ $0 })?.send(.resumed)
    }

    /// Tells the source why this side gives up (best effort).
    public func abort(_ message: String) {
        if let connection = channel.withLock({ $0 }) { _ = abort(connection, message) }
    }

    // MARK: Steps

    private func handshake(
        _ connection: MigrationChannel, configure: (SnapshotDescription) throws(VMMError) -> MachineConfiguration
    ) throws(Failure) -> (MigrationHello, MachineConfiguration, MigrationDiskTargets?) {
        let hello: MigrationHello
        do throws(VMMError) {
            let (kind, payload) = try connection.receive(timeout: MigrationSender.handshakeTimeout)
            guard kind == .hello else { throw .invalidSnapshot("the source began with '\(kind)', not hello") }
            hello = try MigrationHello(decoding: payload)
        } catch {
            throw abort(connection, "not a migration this vmm can take: \(error)")
        }
        do throws(VMMError) {
            let configuration = try configure(hello.description)
            try check(hello, configuration: configuration)
            let disks = hello.copyStorage ? try MigrationDiskTargets(configuration, sizes: hello.diskSizes) : nil
            try connection.send(.accept)
            return (hello, configuration, disks)
        } catch {
            let message = error.description
            try? connection.send(.refuse, Array(message.utf8))
            throw error.isUserError ? .refused(message) : .failed(message)
        }
    }

    /// Whether this host can run the VM: the kernel file, the vCPUs' CPU features, its RAM
    /// size against the host's, disks
    /// of the source's sizes (opened only when the machine is built, after the source let
    /// them go).
    private func check(_ hello: MigrationHello, configuration: MachineConfiguration) throws(VMMError) {
        _ = try HostFile.read(configuration.kernelPath, what: "kernel")
        if let initrd = configuration.initrdPath { _ = try HostFile.read(initrd, what: "initrd") }
        try builder.checkCPUFeatures(hello.cpuid, of: "the VM's vCPUs", fix: "migrate it")
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        if pages > 0 && pageSize > 0 {
            let ram = UInt64(pages) * UInt64(pageSize)
            guard configuration.memorySize <= ram else {
                throw .invalidConfiguration(
                    "the VM has \(configuration.memorySize >> 20) MiB of RAM, more than this host's \(ram >> 20) MiB")
            }
        }
        for (index, disk) in configuration.disks.enumerated() {
            var status = stat()
            guard OpenedAhead.status(disk.path, &status) == 0 else {
                throw .invalidConfiguration("disk \(index) '\(disk.path)' does not exist here: \(String(cString: strerror(errno)))")
            }
            let size = status.st_mode & S_IFMT == S_IFBLK ? hello.diskSizes[index] : UInt64(status.st_size)
            guard size == hello.diskSizes[index] else {
                throw .invalidConfiguration(
                    "disk \(index) '\(disk.path)' is \(size) bytes here but \(hello.diskSizes[index]) on the source: "
                        + "give the VM a disk of the same size")
            }
        }
    }

    /// Reads `memory` frames into `memory` and `disk` frames into `disks` until the
    /// `state` frame, which it returns parsed.
    private func receiveStream(
        _ connection: MigrationChannel, into memory: GuestMemory, disks: MigrationDiskTargets?, hello: MigrationHello
    ) throws(VMMError) -> SavedMachineState {
        let timeout = Double(MigrationChannel.stallSeconds)
        while true {
            let (kind, length) = try connection.receiveHeader(timeout: timeout)
            progress.withLock { $0.bytesReceived += UInt64(length) }
            switch kind {
            case .memory:
                guard length > 8 else { throw .invalidSnapshot("a memory frame of \(length) bytes") }
                var decoder = StateDecoder(try connection.receivePayload(8, timeout: timeout), context: "memory")
                let address = try decoder.read(UInt64.self), count = length - 8
                let page = Int(DeviceWriteLog.pageSize)
                guard address % UInt64(page) == 0, count % page == 0,
                      let target = memory.pointer(at: address, count: count)
                else {
                    throw .invalidSnapshot(
                        "the source sent \(count) bytes for guest address 0x\(String(address, radix: 16)): "
                            + "not whole pages of the VM's \(memory.size >> 20) MiB of RAM")
                }
                try connection.read(into: UnsafeMutableRawBufferPointer(start: target, count: count), timeout: timeout)
            case .disk:
                guard let disks else { throw .invalidSnapshot("the source sent disk data without copy-storage") }
                guard length > 12 else { throw .invalidSnapshot("a disk frame of \(length) bytes") }
                var decoder = StateDecoder(try connection.receivePayload(12, timeout: timeout), context: "disk")
                let index = Int(try decoder.read(UInt32.self)), offset = try decoder.read(UInt64.self)
                let data = try connection.receivePayload(length - 12, timeout: timeout)
                let outcome = data.withUnsafeBytes { bytes in
                    Result { () throws(VMMError) in try disks.write(index, at: offset, from: bytes.baseAddress!, count: bytes.count) }
                }
                try outcome.get()
            case .state:
                let body = try SnapshotFormat.unframe(
                    try connection.receivePayload(length, timeout: timeout), path: "the migration stream's state")
                let saved = try SavedMachineState(body: body)
                let was = hello.description.configuration, now = saved.description.configuration
                guard now.memorySize == was.memorySize, now.cpuCount == was.cpuCount,
                      now.disks.count == was.disks.count, now.networks.count == was.networks.count
                else { throw .invalidSnapshot("the state describes another machine than the hello") }
                return saved
            case .abort:
                let message = MigrationSender.text(try connection.receivePayload(length, timeout: timeout))
                throw .invalidConfiguration("the source gave up: \(message)")
            default:
                throw .invalidSnapshot("the source sent '\(kind)' while memory was expected")
            }
        }
    }

    private func abort(_ connection: MigrationChannel, _ message: String) -> Failure {
        try? connection.send(.abort, Array(message.utf8))
        return .failed(message)
    }
}
