import KVM
import Synchronization

/// A built virtual machine: its vCPU threads, devices and lifecycle.
///
/// `run()` starts the vCPUs and blocks until the machine exits; other threads may pause,
/// resume, press the power button or force a stop meanwhile.
public final class Machine: Sendable {
    public let devices: PlatformDevices
    public let memory: GuestMemory
    public let vcpus: [VCPUThread]
    let vm: KVMVirtualMachine
    let exitLatch: MachineExitLatch
    private let exited: EventNotifier
    private let log: Logger
    /// The host kernel's statistics of the VM, opened on first use (`Machine+Statistics`).
    let vmStatisticsFile = Mutex<KVMStatistics?>(nil)

    init(
        vm: KVMVirtualMachine, memory: GuestMemory, devices: PlatformDevices, vcpus: [VCPUThread],
        exitLatch: MachineExitLatch, exited: EventNotifier, log: Logger
    ) {
        self.vm = vm
        self.memory = memory
        self.devices = devices
        self.vcpus = vcpus
        self.exitLatch = exitLatch
        self.exited = exited
        self.log = log
    }

    /// Runs the guest until it powers off, resets, faults or is stopped.
    public func run() throws(VMMError) -> MachineExit {
        // vCPU 0 runs on the vCPU launcher's own thread (a task fewer per VM), which starts
        // no thread meanwhile: it comes last.
        for vcpu in vcpus.reversed() {
            do throws(VMMError) {
                try vcpu.start(onLauncher: vcpu === vcpus.first)
            } catch {
                exitLatch.report(.hostFailure(error.description))
                break
            }
        }
        exited.wait()
        for vcpu in vcpus { vcpu.stop() }
        for vcpu in vcpus { vcpu.join() }
        return exitLatch.exit ?? .forcedStop
    }

    public func pause() { for vcpu in vcpus { vcpu.pause() } }
    public func resume() { for vcpu in vcpus { vcpu.resume() } }

    /// Presses the ACPI power button; a cooperative guest shuts down.
    public func pressPowerButton() { devices.powerManagement.pressPowerButton() }

    /// Stops the machine at once, whatever the guest is doing.
    public func forceStop() { exitLatch.report(.forcedStop) }
}
