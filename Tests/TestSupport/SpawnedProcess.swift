import Foundation
import Glibc

/// A child process started with `posix_spawn`: the part of Foundation's `Process` that the
/// tests use, with the same names.
///
/// Why not `Process`: on Linux its `run()` scans /proc/self/fd copying 256 bytes of every
/// `readdir` record, which reads past glibc's buffer and now and then kills the whole test
/// process with SIGSEGV (swift-corelibs-foundation #5472, fixed after Swift 6.3.1).
public final class SpawnedProcess: @unchecked Sendable {
    public enum TerminationReason: Sendable {
        case exit
        case uncaughtSignal
    }

    public struct LaunchError: Error, CustomStringConvertible {
        public let description: String
    }

    public var executableURL: URL?
    public var arguments: [String]?
    /// nil: the test process's environment.
    public var environment: [String: String]?
    public var currentDirectoryURL: URL?
    /// Each a `FileHandle` or a `Pipe`; nil: the test process's own.
    public var standardInput: Any?
    public var standardOutput: Any?
    public var standardError: Any?
    /// Called once, on a thread of its own, after the process has ended.
    public var terminationHandler: (@Sendable (SpawnedProcess) -> Void)?

    private let condition = NSCondition()
    private var pid: pid_t = 0
    /// The raw `waitpid` status once the process has ended.
    private var waitStatus: Int32?

    public init() {}

    public var processIdentifier: Int32 { condition.withLock { pid } }
    public var isRunning: Bool { condition.withLock { pid != 0 && waitStatus == nil } }

    /// The exit status, or the number of the signal that ended the process.
    public var terminationStatus: Int32 {
        guard let status = condition.withLock({ waitStatus }) else { return 0 }
        return status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
    }

    public var terminationReason: TerminationReason {
        guard let status = condition.withLock({ waitStatus }) else { return .exit }
        return status & 0x7f == 0 ? .exit : .uncaughtSignal
    }

    public func run() throws {
        guard let executable = executableURL?.path else { throw LaunchError(description: "no executableURL") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (stream, target) in [(standardInput, Int32(0)), (standardOutput, 1), (standardError, 2)] {
            if let handle = stream as? FileHandle, handle === FileHandle.nullDevice {
                // Foundation's null device has no descriptor (-1).
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            } else if let source = Self.descriptor(stream, isInput: target == 0) {
                posix_spawn_file_actions_adddup2(&actions, source, target)
            }
        }
        // Descriptors the tests hold (sockets, pipes of other children) stay out of the child.
        guard Self.call("posix_spawn_file_actions_addclosefrom_np", &actions, 3) else {
            throw LaunchError(description: "posix_spawn_file_actions_addclosefrom_np is unavailable (glibc < 2.34)")
        }
        if let directory = currentDirectoryURL?.path {
            guard Self.call("posix_spawn_file_actions_addchdir_np", &actions, directory) else {
                throw LaunchError(description: "cannot make the child change to \(directory)")
            }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t()
        var none = sigset_t()
        sigfillset(&all)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var argv = ([executable] + (arguments ?? [])).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { envp?.forEach { free($0) } }
        var child: pid_t = 0
        let result = envp == nil
            ? posix_spawn(&child, executable, &actions, &attributes, &argv, environ)
            : posix_spawn(&child, executable, &actions, &attributes, &argv, &envp!)
        guard result == 0 else {
            throw LaunchError(description: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        condition.withLock { pid = child }
        // The child has its copies; the parent's ends would keep a reader from seeing EOF.
        (standardInput as? Pipe).map { try? $0.fileHandleForReading.close() }
        (standardOutput as? Pipe).map { try? $0.fileHandleForWriting.close() }
        (standardError as? Pipe).map { try? $0.fileHandleForWriting.close() }
        Thread.detachNewThread { [self, child] in reap(child) }
    }

    public func waitUntilExit() {
        condition.lock()
        while waitStatus == nil { condition.wait() }
        condition.unlock()
    }

    public func terminate() { signal(SIGTERM) }

    public func interrupt() { signal(SIGINT) }

    private func signal(_ number: Int32) {
        condition.withLock {
            if pid != 0, waitStatus == nil { kill(pid, number) }
        }
    }

    private func reap(_ child: pid_t) {
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0, errno == EINTR {}
        condition.withLock {
            waitStatus = status
            condition.broadcast()
        }
        terminationHandler?(self)
    }

    private static func descriptor(_ stream: Any?, isInput: Bool) -> Int32? {
        switch stream {
        case let handle as FileHandle: handle.fileDescriptor
        case let pipe as Pipe: (isInput ? pipe.fileHandleForReading : pipe.fileHandleForWriting).fileDescriptor
        default: nil
        }
    }

    /// glibc's `posix_spawn_file_actions_add*_np` functions, which Swift's Glibc module does not declare.
    private static func call(_ name: String, _ actions: inout posix_spawn_file_actions_t, _ lowest: Int32) -> Bool {
        typealias Function = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return false }
        return unsafeBitCast(symbol, to: Function.self)(&actions, lowest) == 0
    }

    private static func call(_ name: String, _ actions: inout posix_spawn_file_actions_t, _ path: String) -> Bool {
        typealias Function = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return false }
        return unsafeBitCast(symbol, to: Function.self)(&actions, path) == 0
    }
}
