import Foundation
import Testing
import TestSupport

extension LongGuestRuns {
    /// vmm's per-thread seccomp filters (docs/seccomp.md), seen from outside the process:
    /// /proc shows every thread filtered, and a thread that makes a forbidden call (the
    /// documented VMM_SECCOMP_SELF_TEST switch) ends vmm by SIGSYS with the call named.
    @Suite(.enabled(if: TestEnvironment.kvmAvailable)) struct SeccompTests {
        /// Each thread's name and its `Seccomp:` and `Seccomp_filters:` lines.
        static func threads(of pid: Int32) -> [(name: String, mode: Int, filters: Int)] {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return tasks.compactMap { task in
                let status = ProcessStatus.fields(pid, thread: Int32(task))
                guard !status.isEmpty else { return nil }
                return (status["Name"] ?? "", Int(status["Seccomp"] ?? "") ?? -1, Int(status["Seccomp_filters"] ?? "") ?? -1)
            }
        }

        static func runningVMM(_ arguments: [String]) throws -> (SupervisedVMM, Int32) {
            let vmm = try SupervisedVMM(kernel: "echo", arguments: arguments)
            let pid = vmm.process.process.processIdentifier
            // The vCPU thread starts last, once the machine is built.
            let deadline = Date().addingTimeInterval(20)
            while !threads(of: pid).contains(where: { $0.name == "vcpu 0" }) && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.02)
            }
            return (vmm, pid)
        }

        @Test func everyThreadOfARunningVMMIsFiltered() throws {
            let (vmm, pid) = try Self.runningVMM([])
            let threads = Self.threads(of: pid)
            // vmm's own threads, and no more (KVM adds a thread of its own to the process): the
            // sockets share one thread, and the vCPU launcher runs vCPU 0 itself.
            let own = threads.map(\.name).filter { !$0.hasPrefix("kvm") }.sorted()
            #expect(own == ["signals", "sockets", "vcpu 0", "vmm"], "\(threads)")
            for thread in threads where !thread.name.hasPrefix("kvm") {
                #expect(thread.mode == 2 && thread.filters >= 1, "\(thread)")
            }
            // The other threads carry main's filter and their own; the vCPU thread only the
            // vCPU filter, from the launcher it runs on (one filter per KVM_RUN).
            #expect(threads.first { $0.name == "signals" }?.filters == 2, "\(threads)")
            #expect(threads.first { $0.name == "sockets" }?.filters == 2, "\(threads)")
            #expect(threads.first { $0.name == "vcpu 0" }?.filters == 1, "\(threads)")
            _ = try vmm.control().request("stop")
            _ = vmm.process.finish(timeout: 20)
        }

        @Test func offLeavesEveryThreadUnfiltered() throws {
            let (vmm, pid) = try Self.runningVMM(["--seccomp=off"])
            let threads = Self.threads(of: pid)
            #expect(threads.count >= 4, "\(threads)")
            for thread in threads { #expect(thread.mode == 0 && thread.filters == 0, "\(thread)") }
            _ = try vmm.control().request("stop")
            _ = vmm.process.finish(timeout: 20)
        }

        /// A virtio guest that drives its disk and entropy device, so device workers and
        /// block I/O threads exist, under sockets so the control and console threads do.
        static func selfTest(_ kind: String, mode: String = "on") throws -> (VMMProcess.Result, signaled: Bool, exitFile: Bool) {
            let folder = "/tmp/vmm-sc-" + UUID().uuidString.prefix(8)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            FileManager.default.createFile(atPath: folder + "/disk.img", contents: Data(count: 1 << 20))
            let vmm = VMMProcess(
                ["run", "--kernel", try TestEnvironment.guest("virtio"), "--disk", folder + "/disk.img",
                 "--control-socket", folder + "/c.sock", "--console-socket", folder + "/s.sock",
                 "--exit-file", folder + "/exit.json", "--seccomp=\(mode)"],
                environment: ["VMM_SECCOMP_SELF_TEST": kind])
            try vmm.start()
            let result = vmm.finish(timeout: 30)
            return (result, vmm.process.terminationReason == .uncaughtSignal,
                    FileManager.default.fileExists(atPath: folder + "/exit.json"))
        }

        @Test(arguments: ["main", "vcpu", "device-worker", "block-io", "control", "signals"])
        func aForbiddenCallEndsVMMBySIGSYSNamingTheThreadAndTheCall(kind: String) throws {
            let (result, signaled, exitFile) = try Self.selfTest(kind)
            #expect(signaled && result.status == SIGSYS, "status \(result.status): \(result.standardError)")
            #expect(result.standardError.contains(
                "seccomp: thread \(kind) made forbidden system call getppid (110); pid "), "\(result.standardError)")
            #expect(!exitFile, "a process killed by a filter cannot write its exit file")
        }

        @Test func logLetsTheForbiddenCallThrough() throws {
            let (result, signaled, exitFile) = try Self.selfTest("vcpu", mode: "log")
            #expect(!signaled)
            #expect(result.status == 1, "the guest's own debug exit: \(result.standardError)")
            #expect(exitFile)
        }
    }
}
