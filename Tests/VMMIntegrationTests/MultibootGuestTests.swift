import Foundation
import Testing

/// The project's Multiboot test kernels under the real `vmm` binary on /dev/kvm.
@Suite(.enabled(if: TestEnvironment.kvmAvailable))
struct MultibootGuestTests {
    @Test func helloReportsCommandLineMemoryFirmwareConfigAndModule() throws {
        let initrd = try TemporaryFile(contents: "initrd-payload-0123456789")
        let result = try VMMProcess.run([
            "run", "--kernel", try TestEnvironment.guest("hello"), "--cmdline", "exit=3 greeting=hi",
            "--initrd", initrd.path,
        ])
        #expect(result.status == 7)
        #expect(result.lines.first == "hello: multiboot ok")
        #expect(result.lines.contains("cmdline: hello.elf exit=3 greeting=hi"))
        #expect(result.lines.contains("mem: lower=639 upper=261120"))
        #expect(result.lines.contains("fwcfg: ram=256 cpus=1"))
        #expect(result.lines.contains("modules: 1"))
        #expect(result.lines.contains("module: 25 bytes, first=initrd-payload-0"))
        #expect(!result.standardError.contains("hello:"), "guest output must only go to stdout")
    }

    @Test func helloSeesRAMAbove4GiBWithoutTouchingIt() throws {
        let result = try VMMProcess.run(["run", "--kernel", try TestEnvironment.guest("hello"), "--memory", "5G"])
        #expect(result.status == 1)
        #expect(result.lines.contains("fwcfg: ram=5120 cpus=1"))
        #expect(result.lines.contains { $0.hasPrefix("mmap: ") && $0.hasSuffix("above4g=2048 MiB") })
        #expect(result.lines.contains("modules: 0"))
    }

    @Test(arguments: [0, 1, 3, 127, 128, 200])
    func debugExitSetsTheStatus(value: Int) throws {
        let result = try VMMProcess.run(["run", "--kernel", try TestEnvironment.guest("hello"), "--cmdline", "exit=\(value)"])
        #expect(result.status == Int32(((value << 1) | 1) & 0xff))
    }

    @Test(arguments: [1, 2, 4])
    func smpStartsEveryVCPU(cpus: Int) throws {
        let result = try VMMProcess.run(["run", "--kernel", try TestEnvironment.guest("smp"), "--cpus", "\(cpus)"])
        for id in 0..<cpus { #expect(result.lines.filter { $0 == "cpu \(id) up" }.count == 1) }
        #expect(result.lines.contains("smp: \(cpus) of \(cpus) cpus up"))
        #expect(result.status == 1)
    }

    @Test(arguments: [1, 2])
    func timerInterruptsArriveFromLAPICAndPIT(cpus: Int) throws {
        let result = try VMMProcess.run(["run", "--kernel", try TestEnvironment.guest("timer"), "--cpus", "\(cpus)"])
        #expect(result.lines.contains("timer: lapic ok"), "\(result.standardOutput)\(result.standardError)")
        #expect(result.lines.contains("timer: pit ok"))
        #expect(result.status == 1)
    }

    @Test func serialInputReachesTheGuestThroughInterrupts() throws {
        let result = try VMMProcess.run(
            ["run", "--kernel", try TestEnvironment.guest("echo")], input: "hello world\nsecond line\nquit\n")
        #expect(result.lines.contains("echo: ready"))
        #expect(result.lines.contains("echo: hello world"))
        #expect(result.lines.contains("echo: second line"))
        #expect(result.lines.contains("echo: bye"))
        #expect(result.status == 1)
    }

    @Test func bulkSerialInputArrivesCompleteAndInOrder() throws {
        let lines = (0..<400).map { "line \($0) abcdefghijklmnopqrstuvwxyz" }
        let result = try VMMProcess.run(
            ["run", "--kernel", try TestEnvironment.guest("echo")], input: lines.joined(separator: "\n") + "\nquit\n",
            timeout: 120)
        #expect(result.lines.filter { $0.hasPrefix("echo: line ") } == lines.map { "echo: \($0)" })
        #expect(result.lines.contains("echo: bye"))
        #expect(result.status == 1)
    }

    @Test func acpiPowerOffEndsWithStatusZero() throws {
        let result = try VMMProcess.run(["run", "--kernel", try TestEnvironment.guest("acpi-poweroff"), "--cpus", "2"])
        #expect(result.lines.contains("acpi: fadt pm1a_cnt=0x604 s5=5"))
        #expect(result.lines.contains("acpi: powering off"))
        #expect(!result.lines.contains("acpi: still running"))
        #expect(result.status == 0)
    }

    @Test func sigtermPressesThePowerButton() throws {
        let vmm = VMMProcess(["run", "--kernel", try TestEnvironment.guest("power-button")])
        try vmm.start()
        #expect(vmm.waitForOutput("power-button: waiting", timeout: 30))
        vmm.signal(SIGTERM)
        let result = vmm.finish(timeout: 30)
        #expect(result.lines.contains("power-button: pressed"))
        #expect(result.lines.contains("power-button: powering off"))
        #expect(result.status == 0)
    }

    @Test func sigtermStopsAGuestThatIgnoresThePowerButton() throws {
        let vmm = VMMProcess(["run", "--kernel", try TestEnvironment.guest("echo"), "--shutdown-timeout", "1"])
        try vmm.start()
        #expect(vmm.waitForOutput("echo: ready", timeout: 30))
        let signalled = Date()
        vmm.signal(SIGTERM)
        let result = vmm.finish(timeout: 30)
        #expect(result.status == 143)
        #expect(Date().timeIntervalSince(signalled) < 5)
        #expect(result.standardError.contains("did not power off"))
    }

    @Test func resetBootsTheGuestAgain() throws {
        let vmm = VMMProcess(["run", "--kernel", try TestEnvironment.guest("reboot")])
        try vmm.start()
        let deadline = Date().addingTimeInterval(30)
        while vmm.standardOutput.components(separatedBy: "reboot: resetting").count < 4 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        vmm.signal(SIGKILL)
        let result = vmm.finish(timeout: 10)
        #expect(result.lines.filter { $0 == "reboot: resetting" }.count >= 3, "the guest did not boot again")
        #expect(!result.lines.contains("reboot: still running"))
        #expect(result.standardError.contains("guest rebooted"))
    }

    @Test func resetEndsTheVMWithNoReboot() throws {
        let result = try VMMProcess.run(["run", "--kernel", try TestEnvironment.guest("reboot"), "--no-reboot"])
        #expect(result.lines.filter { $0 == "reboot: resetting" }.count == 1)
        #expect(result.status == 0)
    }

    @Test func tripleFaultIsReportedWithRegisters() throws {
        let result = try VMMProcess.run(["run", "--kernel", try TestEnvironment.guest("fault")])
        #expect(result.lines.contains("fault: triple faulting"))
        #expect(result.status == 4)
        #expect(result.standardError.contains("triple fault"))
        #expect(result.standardError.contains("RIP="))
    }
}

/// A file removed when the test ends.
final class TemporaryFile {
    let path: String

    init(contents: String) throws {
        path = NSTemporaryDirectory() + "vmm-test-\(UUID().uuidString)"
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
    }

    init(size: Int) throws {
        path = NSTemporaryDirectory() + "vmm-test-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: path, contents: Data(count: size))
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
