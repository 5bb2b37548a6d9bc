import Foundation
import Testing

/// `vmm run --control-socket`: the requests vmmd will send, and what untrusted clients
/// cannot do to vmm.
@Suite(.enabled(if: TestEnvironment.kvmAvailable))
struct ControlSocketTests {
    @Test func requestsPauseResumeAndStopTheVM() throws {
        let vmm = try SupervisedVMM(kernel: "echo", arguments: ["--cpus", "2"])
        let control = try vmm.control()
        let console = try vmm.console()
        #expect(console.waitFor("echo: ready"))

        let status = try #require(control.request("status"))
        let pidFile = try String(contentsOfFile: vmm.pidPath, encoding: .utf8)
        #expect(status["state"] as? String == "running")
        #expect(status["pid"] as? Int == Int(vmm.process.process.processIdentifier))
        #expect(pidFile == "\(vmm.process.process.processIdentifier)\n")
        #expect(status["vcpus"] as? Int == 2)
        #expect(status["memory"] as? Int == 256 << 20)
        #expect(status["boots"] as? Int == 1)
        #expect((status["exits"] as? [String: Any])?["io"] as? Int ?? 0 > 0)

        #expect(control.request("pause")?["state"] as? String == "paused")
        #expect(control.request("status")?["state"] as? String == "paused")
        #expect(errorCode(control.request("pause")) == "conflict")
        console.send("ping\n")
        #expect(!console.waitFor("echo: ping", timeout: 0.3), "a paused guest must not run")
        #expect(control.request("resume")?["state"] as? String == "running")
        #expect(console.waitFor("echo: ping", timeout: 10))
        #expect(errorCode(control.request("resume")) == "conflict")

        #expect(errorCode(control.request("frobnicate \"\u{1}\\")) == "bad_request")
        #expect(control.request("status")?["state"] as? String == "running", "the connection must survive garbage")

        let flooder = try vmm.control()
        flooder.send([UInt8](repeating: UInt8(ascii: "x"), count: 10 * 1024))
        let answer = flooder.readLine()
        #expect(answer?.contains("bad_request") == true, "\(answer ?? "no answer")")
        #expect(flooder.readLine(timeout: 5) == nil && flooder.isClosed, "an over-long line closes the connection")
        #expect(control.request("status")?["state"] as? String == "running", "vmm must survive an over-long line")

        #expect(control.request("stop")?["ok"] as? Bool == true)
        let result = vmm.process.finish(timeout: 10)
        #expect(result.status == 143)
        #expect(result.standardOutput.isEmpty, "with --console-socket nothing goes to stdout")
        #expect(vmm.exitReport?["reason"] as? String == "stopped")
        #expect(vmm.exitReport?["status"] as? Int == 143)
        #expect(!vmm.fileExists(vmm.controlPath) && !vmm.fileExists(vmm.consolePath) && !vmm.fileExists(vmm.pidPath))
    }

    /// `stats` hands over the host kernel's own counters: every exit vmm handled went through
    /// KVM first, so KVM's count is at least vmm's, and both grow while the guest works.
    @Test func statsReportsTheKernelsCountersOfTheVMAndEachVCPU() throws {
        let vmm = try SupervisedVMM(kernel: "echo", arguments: ["--cpus", "2"])
        let control = try vmm.control()
        let console = try vmm.console()
        #expect(console.waitFor("echo: ready"))

        let handled = try #require(control.request("status")?["exits"] as? [String: Any])
        let first = try #require(control.request("stats"))
        let vcpus = try #require(first["vcpus"] as? [[String: Any]])
        #expect(vcpus.map { $0["id"] as? Int } == [0, 1])
        #expect(first["vm"] is [String: Any])
        let kernelExits = { (answer: [String: Any]) in
            ((answer["vcpus"] as? [[String: Any]]) ?? []).reduce(0) {
                $0 + (($1["counters"] as? [String: Any])?["exits"] as? Int ?? 0)
            }
        }
        let vmmExits = (handled["io"] as? Int ?? 0) + (handled["mmio"] as? Int ?? 0)
        #expect(vmmExits > 0 && kernelExits(first) >= vmmExits, "KVM counted \(kernelExits(first)), vmm handled \(vmmExits)")

        console.send("count me\n")
        #expect(console.waitFor("echo: count me"))
        let second = try #require(control.request("stats"))
        #expect(kernelExits(second) > kernelExits(first), "the guest's output made exits")
        #expect(errorCode(control.request("stats now")) == "bad_request")
        #expect(control.request("stop")?["ok"] as? Bool == true)
        #expect(vmm.process.finish(timeout: 10).status == 143)
    }

    @Test func shutdownPressesThePowerButton() throws {
        let vmm = try SupervisedVMM(kernel: "power-button")
        let console = try vmm.console()
        #expect(console.waitFor("power-button: waiting"))
        #expect(try vmm.control().request("shutdown")?["ok"] as? Bool == true)
        let result = vmm.process.finish(timeout: 30)
        #expect(console.waitFor("power-button: powering off", timeout: 5))
        #expect(result.status == 0)
        #expect(vmm.exitReport?["reason"] as? String == "poweroff")
        #expect(vmm.exitReport?["status"] as? Int == 0)
    }

    @Test func rebootBootsTheGuestAgain() throws {
        let vmm = try SupervisedVMM(kernel: "echo")
        let control = try vmm.control()
        let console = try vmm.console()
        #expect(console.waitFor("echo: ready"))
        #expect(control.request("reboot")?["ok"] as? Bool == true)
        #expect(console.waitFor("echo: ready"), "the guest did not boot again: \(console.text)")
        #expect(control.request("status")?["boots"] as? Int == 2)
        console.send("quit\n")
        let result = vmm.process.finish(timeout: 30)
        #expect(result.status == 1)
        #expect(vmm.exitReport?["reason"] as? String == "debug-exit")
    }

    @Test func guestResetsCountAsBoots() throws {
        let vmm = try SupervisedVMM(kernel: "reboot")
        let control = try vmm.control()
        let deadline = Date().addingTimeInterval(30)
        var boots = 0
        while boots < 2 && Date() < deadline {
            boots = control.request("status")?["boots"] as? Int ?? 0
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(boots >= 2)
        #expect(control.request("stop")?["ok"] as? Bool == true)
        #expect(vmm.process.finish(timeout: 10).status == 143)
    }

    /// The fence (docs/cluster.md section 4): extended in time the VM runs on; once no
    /// extension comes, vmm stops it by itself at the deadline, with no supervisor involved.
    @Test func fenceStopsTheVMAtItsDeadlineUnlessExtended() throws {
        let vmm = try SupervisedVMM(kernel: "echo")
        let control = try vmm.control()
        #expect(try vmm.console().waitFor("echo: ready"))
        for bad in ["fence", "fence 0", "fence -5", "fence soon", "fence until=x", "fence 1 2", "fence 99999999999"] {
            #expect(errorCode(control.request(bad)) == "bad_request", "\(bad)")
        }
        #expect(control.request("status")?["fence_ms"] == nil, "no fence until one is asked for")
        let armed = try #require(control.request("fence 400"))
        #expect((armed["fence_ms"] as? Int).map { (300...400).contains($0) } == true, "\(armed)")
        // Extended every 100 ms for a second: it never fires.
        for _ in 0..<10 {
            Thread.sleep(forTimeInterval: 0.1)
            #expect(control.request("fence 400")?["ok"] as? Bool == true)
        }
        #expect(control.request("fence off")?["ok"] as? Bool == true)
        Thread.sleep(forTimeInterval: 0.6)
        #expect(control.request("status")?["state"] as? String == "running", "a fence turned off never fires")

        let deadline = Self.bootTimeNanoseconds() + 300_000_000
        #expect(control.request("fence until=\(deadline)")?["ok"] as? Bool == true)
        let result = vmm.process.finish(timeout: 10)
        let ended = Self.bootTimeNanoseconds()
        #expect(ended >= deadline, "fenced before its deadline")
        #expect(ended - deadline < 2_000_000_000, "fenced \((ended - deadline) / 1_000_000) ms after its deadline")
        #expect(result.status == 8)
        #expect(vmm.exitReport?["reason"] as? String == "fenced")
        #expect((vmm.exitReport?["message"] as? String)?.hasPrefix("the fence deadline passed") == true)
    }

    /// A snapshot runs beside the socket thread: the fence deadline an HA VM's daemon moves
    /// every second, `status` and the console are served while it is written (before, a
    /// multi-gigabyte snapshot held them all and the VM was fenced), and what would disturb
    /// it is refused until it ends.
    @Test func aSnapshotLeavesStatusFenceAndTheConsoleServed() throws {
        let vmm = try SupervisedVMM(kernel: "echo")
        let snapshotter = try vmm.control()
        let control = try vmm.control()
        let console = try vmm.console()
        #expect(console.waitFor("echo: ready"))
        let work = try ScratchFolder()
        #expect(snapshotter.send("snapshot \(work.file("snap"))\n"))
        // Writing 256 MiB of guest RAM and syncing takes far longer than these round trips.
        #expect(control.request("status")?["state"] != nil)
        #expect(control.request("fence 10000")?["ok"] as? Bool == true)
        let refused = control.request("pause")
        #expect(errorCode(refused) == "conflict", "\(refused.map { "\($0)" } ?? "no answer")")
        #expect((refused?["error"] as? [String: Any])?["message"] as? String
            == "a snapshot is under way; only status and fence are answered until it ends")
        #expect(console.send("ping\n"))
        #expect(console.waitFor("echo: ping", timeout: 10))
        let written = snapshotter.readLine(timeout: 60)
        #expect(written?.contains(#""ok":true"#) == true, "\(written ?? "no answer")")
        #expect(control.request("pause")?["state"] as? String == "paused", "served again once the snapshot ended")
        #expect(control.request("fence off")?["ok"] as? Bool == true)
    }

    private static func bootTimeNanoseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_BOOTTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    @Test func badSocketPathsAreBadInput() throws {
        let file = try TemporaryFile(contents: "not a socket")
        let result = try VMMProcess.run(["run", "--kernel", try TestEnvironment.guest("hello"), "--control-socket", file.path])
        #expect(result.status == 2)
        #expect(result.standardError.contains("not a socket"))
        #expect(FileManager.default.contents(atPath: file.path) == Data("not a socket".utf8), "vmm must not replace a file")
    }

    private func errorCode(_ answer: [String: Any]?) -> String? {
        (answer?["error"] as? [String: Any])?["code"] as? String
    }
}
