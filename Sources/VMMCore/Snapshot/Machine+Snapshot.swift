import CKVM
import KVM

/// Saving and restoring a whole machine's state (everything but RAM and disks).
extension Machine {
    /// Stops the device threads after their requests in flight; the vCPUs must be paused.
    public func quiesceDevices() { devices.quiesce() }
    public func resumeDevices() { devices.resumeAfterQuiesce() }

    /// The state file's body. The vCPUs are paused and the devices quiesced.
    func saveState(kvm: KVMSystem, description: SnapshotDescription) throws(VMMError) -> [UInt8] {
        var encoder = StateEncoder()
        description.encode(to: &encoder)
        let chips = try VMMError.kvm { () throws(KVMError) in
            try KVMVirtualMachine.InterruptControllerChip.allCases.map { (chip) throws(KVMError) in
                try vm.interruptControllerState(chip)
            }
        }
        let timer = description.configuration.hasPIT ? try VMMError.kvm { () throws(KVMError) in try vm.timerState() } : nil
        let clock = try VMMError.kvm { () throws(KVMError) in try vm.clock() }
        let wallClock = WallClock.nanoseconds
        encoder.section("vm") { e in
            for chip in chips { e.appendRaw(chip) }
            e.append(timer != nil)
            if let timer { e.appendRaw(timer) }
            e.append(clock)
            e.append(wallClock)
        }
        var vcpuStates: [VCPUState] = []
        for thread in vcpus {
            vcpuStates.append(try VMMError.kvm { () throws(KVMError) in try VCPUState.capture(thread, kvm: kvm) })
        }
        encoder.append(UInt32(vcpuStates.count))
        for state in vcpuStates { state.encode(to: &encoder) }
        var deviceEncoder = StateEncoder()
        try devices.saveState(to: &deviceEncoder)
        encoder.section("devices") { $0.append(bytes: deviceEncoder.bytes) }
        return encoder.bytes
    }

    /// Pours saved state into this freshly built machine, whose vCPUs have not run yet.
    /// The kvmclock is set last, so the guest's clock goes on from the saved instant.
    ///
    /// With `catchUpClock`, the guest's clock instead leaps by the wall-clock time since
    /// the snapshot was taken, so its time of day is right again at once.
    func restoreState(_ saved: SavedMachineState, catchUpClock: Bool, log: Logger) throws(VMMError) {
        guard saved.vcpus.count == vcpus.count else {
            throw .invalidSnapshot("the snapshot has \(saved.vcpus.count) vCPUs, the machine \(vcpus.count)")
        }
        try VMMError.kvm { () throws(KVMError) in
            for (thread, state) in zip(vcpus, saved.vcpus) { try state.restore(to: thread.vcpu, log: log) }
            for chip in saved.interruptControllers { try vm.setInterruptControllerState(chip) }
            if let timer = saved.timer { try vm.setTimerState(timer) }
        }
        var deviceDecoder = StateDecoder(saved.deviceState, context: "devices")
        try devices.restoreState(from: &deviceDecoder)
        guard deviceDecoder.isAtEnd else { throw deviceDecoder.malformed("bytes after the last device") }
        var clock = saved.clock
        if catchUpClock {
            let elapsed = WallClock.nanoseconds &- saved.wallClock
            if elapsed > 0 { clock &+= UInt64(elapsed) }
            log.info("guest clock advanced by \(elapsed / 1_000_000) ms, the time since the snapshot")
        }
        try VMMError.kvm { () throws(KVMError) in try vm.setClock(clock) }
    }
}

/// A state file's body, parsed and checked before any KVM object exists.
struct SavedMachineState {
    var description: SnapshotDescription
    var interruptControllers: [kvm_irqchip]
    var timer: kvm_pit_state2?
    var clock: UInt64
    /// CLOCK_REALTIME in nanoseconds when `clock` was read.
    var wallClock: Int64
    var vcpus: [VCPUState]
    var deviceState: [UInt8]

    init(body: [UInt8]) throws(VMMError) {
        var decoder = StateDecoder(body)
        description = try SnapshotDescription.decode(from: &decoder)
        (interruptControllers, timer, clock, wallClock) = try decoder.section("vm") {
            (d) throws(VMMError) -> ([kvm_irqchip], kvm_pit_state2?, UInt64, Int64) in
            var chips: [kvm_irqchip] = []
            for _ in KVMVirtualMachine.InterruptControllerChip.allCases { chips.append(try d.readRaw(kvm_irqchip.self)) }
            let timer = try d.readBool() ? try d.readRaw(kvm_pit_state2.self) : nil
            return (chips, timer, try d.read(UInt64.self), try d.read(Int64.self))
        }
        let vcpuCount = Int(try decoder.read(UInt32.self))
        guard vcpuCount == description.configuration.cpuCount else {
            throw decoder.malformed("\(vcpuCount) vCPU states for \(description.configuration.cpuCount) vCPUs")
        }
        vcpus = []
        for _ in 0..<vcpuCount { vcpus.append(try VCPUState.decode(from: &decoder)) }
        deviceState = try decoder.section("devices") { (d) throws(VMMError) in try d.readBytes() }
        guard decoder.isAtEnd else { throw decoder.malformed("bytes after the device state") }
    }
}
