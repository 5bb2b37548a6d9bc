import Foundation
import Testing
import TestSupport

extension LongGuestRuns {
    /// `vmm run|restore --jail DIR --uid --gid` by hand (docs/jail.md): the VM runs in
    /// namespaces of its own with DIR as its root, as an unprivileged user with no
    /// capabilities; its console, control socket, snapshots and restore still work.
    @Suite(.enabled(if: TestEnvironment.kvmAvailable && geteuid() == 0)) struct JailTests {
        static let user = "232000"

        /// A folder with the jail root `root` (owned by `user`) and room for images beside it.
        final class JailFolder {
            let path = "/tmp/vmm-jail-" + UUID().uuidString.prefix(8)
            var root: String { path + "/root" }

            init() throws {
                for folder in [root, path + "/snaps"] {
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                    try FileManager.default.setAttributes(
                        [.ownerAccountID: Int(JailTests.user)!, .groupOwnerAccountID: Int(JailTests.user)!, .posixPermissions: 0o700],
                        ofItemAtPath: folder)
                }
            }

            deinit { try? FileManager.default.removeItem(atPath: path) }

            var supervision: [String] {
                ["--control-socket", root + "/control.sock", "--console-socket", root + "/console.sock",
                 "--pid-file", root + "/vmm.pid", "--exit-file", root + "/exit.json"]
            }
            var jail: [String] {
                ["--jail", root, "--uid", JailTests.user, "--gid", JailTests.user, "--jail-bind", path + "/snaps=/snaps"]
            }

            func control() throws -> UnixSocketConnection { try UnixSocketConnection(path: root + "/control.sock") }
            func console() throws -> UnixSocketConnection { try UnixSocketConnection(path: root + "/console.sock") }

            /// Connects once vmm made its socket.
            func connect(_ make: () throws -> UnixSocketConnection) throws -> UnixSocketConnection {
                let deadline = Date().addingTimeInterval(20)
                while true {
                    if let connection = try? make() { return connection }
                    guard Date() < deadline else { return try make() }
                    Thread.sleep(forTimeInterval: 0.02)
                }
            }
        }

        @Test func itsOptionsAreCheckedBeforeAnythingRuns() throws {
            let folder = try JailFolder()
            let kernel = try TestEnvironment.guest("echo")
            let cases: [([String], String)] = [
                (["--uid", "5"], "--uid needs --jail DIR"),
                (["--jail", folder.root, "--gid", Self.user], "--jail needs --uid"),
                (["--jail", folder.root, "--uid", "0", "--gid", Self.user], "--uid '0' must be a number from 1"),
                (["--jail", folder.root, "--uid", "4242", "--gid", "4242"], "must be writable by uid 4242, or by gid 4242 and not sticky"),
                (["--jail", "relative", "--uid", Self.user, "--gid", Self.user], "must be an existing folder given by its absolute path"),
                (["--jail", folder.root, "--uid", Self.user, "--gid", Self.user, "--exit-file", folder.path + "/exit.json"],
                 "must be inside --jail"),
                (["--jail", folder.root, "--uid", Self.user, "--gid", Self.user, "--jail-bind", "/nonexistent=/x"],
                 "must be HOST=INSIDE"),
            ]
            for (arguments, message) in cases {
                let result = try VMMProcess.run(["run", "--kernel", kernel] + arguments, timeout: 20)
                #expect(result.status == 2 && result.standardError.contains(message), "\(arguments): \(result.standardError)")
            }
            // vmm receive reaches its socket and kernel only if they are inside or opened ahead.
            let jail = ["--jail", folder.root, "--uid", Self.user, "--gid", Self.user]
            let receives: [([String], String)] = [
                (["--incoming", folder.path + "/in.sock", "--kernel", kernel] + jail, "--incoming '\(folder.path)/in.sock' must be inside --jail"),
                (["--incoming", folder.root + "/in.sock"] + jail, "--jail needs --kernel"),
            ]
            for (arguments, message) in receives {
                let result = try VMMProcess.run(["receive"] + arguments, timeout: 20)
                #expect(result.status == 2 && result.standardError.contains(message), "\(arguments): \(result.standardError)")
            }
        }

        @Test func aJailedVMRunsAloneAsItsUserAndEndsCleanly() throws {
            let folder = try JailFolder()
            let vmm = VMMProcess(["run", "--kernel", try TestEnvironment.guest("echo")] + folder.supervision + folder.jail)
            try vmm.start()
            defer { _ = vmm.finish(timeout: 0) }
            let keeper = vmm.process.processIdentifier
            let console = try folder.connect(folder.console)
            #expect(console.waitFor("echo: ready"), "\(console.text)")
            #expect(console.send("jailed\n"))
            #expect(console.waitFor("jailed"), "\(console.text)")
            let control = try folder.connect(folder.control)
            #expect((try? String(contentsOfFile: folder.root + "/vmm.pid", encoding: .utf8)) == "\(keeper)\n",
                    "the pid file names the pid the supervisor watches")
            let children = (try? String(contentsOfFile: "/proc/\(keeper)/task/\(keeper)/children", encoding: .utf8)) ?? ""
            let vm = try #require(children.split(separator: " ").compactMap { Int32($0) }.first)
            #expect(control.request("status")?["pid"] as? Int == Int(vm), "status names the process running the guest")
            for pid in [keeper, vm] {
                let status = ProcessStatus.fields(pid)
                #expect(status["Uid"] == "\(Self.user)\t\(Self.user)\t\(Self.user)\t\(Self.user)", "\(pid): \(status)")
                #expect(status["Gid"] == "\(Self.user)\t\(Self.user)\t\(Self.user)\t\(Self.user)")
                for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] { #expect(status[set] == "0000000000000000", "\(set)") }
                #expect(status["NoNewPrivs"] == "1")
                let seen = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/root").sorted()
                #expect(seen == (try FileManager.default.contentsOfDirectory(atPath: folder.root).sorted()))
                #expect(seen == ["console.sock", "control.sock", "snaps", "vmm.pid"], "\(seen)")
            }
            #expect(ProcessStatus.fields(vm)["NSpid"] == "\(vm)\t1")
            // Every thread but the one that forked (it only waits, docs/jail.md) is filtered.
            let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(vm)/task").filter { $0 != "\(vm)" }
            #expect(tasks.count >= 4, "\(tasks)")
            for task in tasks {
                #expect(ProcessStatus.fields(vm, thread: Int32(task))["Seccomp"] == "2", "task \(task)")
            }

            _ = control.request("stop")
            let result = vmm.finish(timeout: 20)
            #expect(result.status == 143, "the keeper ends as the VM did: \(result.standardError)")
            let left = try FileManager.default.contentsOfDirectory(atPath: folder.root).sorted()
            #expect(left == ["exit.json", "snaps"], "the jailed vmm removed its sockets and pid file: \(left)")
        }

        @Test func aJailedVMSnapshotsIntoItsBindAndIsRestoredJailed() throws {
            let folder = try JailFolder()
            let source = VMMProcess(["run", "--kernel", try TestEnvironment.guest("echo")] + folder.supervision + folder.jail)
            try source.start()
            defer { _ = source.finish(timeout: 0) }
            let console = try folder.connect(folder.console)
            #expect(console.waitFor("echo: ready"), "\(console.text)")
            #expect(console.send("abc"))
            Thread.sleep(forTimeInterval: 0.3)
            let control = try folder.connect(folder.control)
            let answer = control.request("snapshot /snaps/one", timeout: 60)
            #expect(answer?["ok"] as? Bool == true, "\(String(describing: answer))")
            #expect(FileManager.default.fileExists(atPath: folder.path + "/snaps/one/memory"))
            _ = control.request("stop")
            _ = source.finish(timeout: 20)

            let restored = VMMProcess(["restore", folder.path + "/snaps/one"] + folder.supervision + folder.jail)
            try restored.start()
            defer { _ = restored.finish(timeout: 0) }
            let restoredConsole = try folder.connect(folder.console)
            #expect(restoredConsole.send("def\n"))
            #expect(restoredConsole.waitFor("abcdef"), "the restored guest kept the typed start: \(restoredConsole.text)")
            let restoredControl = try folder.connect(folder.control)
            #expect(restoredControl.request("status")?["state"] as? String == "running")
            #expect(ProcessStatus.fields(restored.process.processIdentifier)["Uid"]?.hasPrefix(Self.user) == true)
            _ = restoredControl.request("stop")
            #expect(restored.finish(timeout: 20).status == 143)
        }
    }
}
