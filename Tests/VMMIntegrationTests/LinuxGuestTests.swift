import Foundation
import Testing

extension LongGuestRuns {
    /// The minimal Linux from scripts/build-linux-guest.sh, booted by both Linux entry paths.
    ///
    /// On a PVM host guest kernel code is emulated (minutes per boot) and guest user space
    /// cannot make system calls, so these tests check what the kernel itself proves; the
    /// user-space and SMP checks run on hosts with VT-x/AMD-V. Boots are serialized.
    @Suite(.serialized, .enabled(if: TestEnvironment.kvmAvailable))
    struct LinuxGuestTests {
        /// What a user would type, bare: vmm itself adds what a PVM host needs (see
        /// docs/pvm.md), which the boot tests check it did.
        static let commandLine = "console=ttyS0"
        /// A boot takes about 2 minutes alone here; the rest of the suite runs beside it.
        static let bootTimeout: TimeInterval = 600

        private func guestFile(_ name: String) throws -> String {
            let path = "\(TestEnvironment.linuxGuestDirectory)/\(name)"
            guard FileManager.default.fileExists(atPath: path) else {
                throw TestSetupError("\(path) is missing: run scripts/build-linux-guest.sh")
            }
            return path
        }

        /// Boots until the kernel hands over to /init, then stops the VM; returns the console log.
        /// `whileBooting` runs every half second until then.
        private func bootToInit(
            kernel: String, memory: String, arguments: [String] = [], whileBooting: () -> Void = {}
        ) throws -> String {
            let vmm = VMMProcess([
                "run", "--kernel", try guestFile(kernel), "--initrd", try guestFile("initramfs.cpio"),
                "--memory", memory, "--cmdline", Self.commandLine,
            ] + arguments)
            try vmm.start()
            let deadline = Date().addingTimeInterval(Self.bootTimeout)
            var reachedInit = false
            while !reachedInit && vmm.process.isRunning && Date() < deadline {
                whileBooting()
                reachedInit = vmm.waitForOutput("Run /init as init process", timeout: 0.5)
            }
            vmm.signal(SIGKILL)
            let result = vmm.finish(timeout: 10)
            #expect(reachedInit, "the kernel did not reach /init; console:\n\(result.standardOutput.suffix(3000))\n\(result.standardError)")
            return result.standardOutput
        }

        /// The total the kernel reports in "Memory: 241884K/261752K available".
        private func reportedMemoryKiB(_ log: String) -> Int? {
            guard let line = log.split(whereSeparator: \.isNewline).first(where: { $0.contains("Memory: ") && $0.contains("K available") }),
                  let slash = line.firstIndex(of: "/")
            else { return nil }
            return Int(line[line.index(after: slash)...].prefix { $0.isNumber })
        }

        private func expectKernelFoundThePlatform(_ log: String, memoryMiB: Int) {
            let total = reportedMemoryKiB(log)
            #expect(total.map { $0 <= memoryMiB * 1024 && $0 >= (memoryMiB - 4) * 1024 } == true,
                    "kernel saw \(total.map(String.init) ?? "no") KiB of \(memoryMiB) MiB")
            #expect(log.contains("ACPI: RSDP 0x00000000000E0000"))
            #expect(log.contains("ACPI: FACP"))
            #expect(log.contains("ACPI: APIC"))
            #expect(log.contains("ttyS0 at I/O 0x3f8 (irq = 4"))
            #expect(log.contains("16550A"))
        }

        @Test func vmlinuxBootsByPVH() throws {
            let log = try bootToInit(kernel: "vmlinux", memory: "256M")
            expectKernelFoundThePlatform(log, memoryMiB: 256)
            expectPVMWorkaroundsOnlyOnPVM(log)
        }

        /// Also the balloon driver, in the same boot (kernel code only, so it works on PVM
        /// hosts): it inflates to the target given at start, then to a new one set on the
        /// running VM, reports free memory and sends statistics.
        @Test func bzImageBootsByTheLinuxBootProtocol() throws {
            let control = "/tmp/vmm-lb-\(UUID().uuidString.prefix(8)).sock"
            defer { unlink(control) }
            var balloon = LinuxBalloonWatch(control: control, bootTarget: 2 << 20, runningTarget: 4 << 20)
            let log = try bootToInit(
                kernel: "bzImage", memory: "384M", arguments: ["--balloon", "2M,stats=2", "--control-socket", control]
            ) { balloon.poll() }
            expectKernelFoundThePlatform(log, memoryMiB: 384)
            expectPVMWorkaroundsOnlyOnPVM(log)
            balloon.expectFollowedBothTargets()
        }

        /// The bare command line boots on a PVM host because vmm added what the host needs.
        private func expectPVMWorkaroundsOnlyOnPVM(_ log: String) {
            let commandLine = log.split(whereSeparator: \.isNewline).first { $0.contains("Command line: ") }.map(String.init) ?? ""
            if TestEnvironment.isPVMHost {
                #expect(commandLine.hasSuffix("Command line: \(Self.commandLine) noxsave clearcpuid=popcnt,smap"), "\(commandLine)")
            } else {
                #expect(commandLine.hasSuffix("Command line: \(Self.commandLine)"), "\(commandLine)")
            }
        }

        @Test(.enabled(if: !TestEnvironment.isPVMHost,
                       "PVM host: guest user space cannot make system calls and SMP Linux hangs; runs on VT-x/AMD-V hosts"),
              arguments: [1, 2])
        func userSpaceReportsCPUsAndMemoryThenPowersOff(cpus: Int) throws {
            let result = try VMMProcess.run([
                "run", "--kernel", try guestFile("bzImage"), "--initrd", try guestFile("initramfs.cpio"),
                "--memory", "256M", "--cpus", "\(cpus)", "--cmdline", "console=ttyS0 panic=-1",
            ], timeout: Self.bootTimeout)
            #expect(result.standardOutput.contains("VMM-LINUX-GUEST: init started"))
            #expect(result.lines.contains { $0.hasPrefix("nproc: \(cpus)") })
            #expect(result.lines.contains { $0.contains("MemTotal:") })
            #expect(result.status == 0)
        }
    }
}
