/// Saved state of the legacy PC devices. Each is read under the device's own lock.

extension Serial16550: Snapshottable {
    public func saveState(to encoder: inout StateEncoder) {
        let r = registers.withLock { $0 }
        encoder.section("serial") { e in
            e.append(r.interruptEnable)
            e.append(r.lineControl)
            e.append(r.modemControl)
            e.append(r.scratch)
            e.append(r.divisorLow)
            e.append(r.divisorHigh)
            e.append(r.fifoControl)
            e.append(r.transmitterEmptyPending)
            e.append(bytes: r.input[r.inputStart...])
        }
    }

    public func restoreState(from decoder: inout StateDecoder) throws(VMMError) {
        let restored = try decoder.section("serial") { (d) throws(VMMError) -> Registers in
            var r = Registers()
            r.interruptEnable = try d.read(UInt8.self)
            r.lineControl = try d.read(UInt8.self)
            r.modemControl = try d.read(UInt8.self)
            r.scratch = try d.read(UInt8.self)
            r.divisorLow = try d.read(UInt8.self)
            r.divisorHigh = try d.read(UInt8.self)
            r.fifoControl = try d.read(UInt8.self)
            r.transmitterEmptyPending = try d.readBool()
            r.input = Array(try d.readBytes().prefix(Self.inputCapacity))
            return r
        }
        registers.withLock { $0 = restored }
    }
}

extension CMOSClock: Snapshottable {
    public func saveState(to encoder: inout StateEncoder) {
        let s = state.withLock { $0 }
        encoder.section("cmos") { e in
            e.append(s.index)
            e.append(bytes: s.storage)
        }
    }

    public func restoreState(from decoder: inout StateDecoder) throws(VMMError) {
        let restored = try decoder.section("cmos") { (d) throws(VMMError) -> State in
            var s = State()
            s.index = try d.read(UInt8.self)
            s.storage = try d.readBytes()
            guard s.storage.count == 128 else { throw d.malformed("\(s.storage.count) CMOS bytes") }
            return s
        }
        state.withLock { $0 = restored }
    }
}

extension I8042Controller: Snapshottable {
    public func saveState(to encoder: inout StateEncoder) {
        let s = state.withLock { $0 }
        encoder.section("i8042") { e in
            e.append(s.commandByte)
            e.append(UInt16(s.pendingCommand ?? 0) | (s.pendingCommand == nil ? 0 : 0x100))
            e.append(UInt16(s.output ?? 0) | (s.output == nil ? 0 : 0x100))
        }
    }

    public func restoreState(from decoder: inout StateDecoder) throws(VMMError) {
        let restored = try decoder.section("i8042") { (d) throws(VMMError) -> State in
            func optionalByte(_ value: UInt16) -> UInt8? { value & 0x100 != 0 ? UInt8(value & 0xff) : nil }
            var s = State()
            s.commandByte = try d.read(UInt8.self)
            s.pendingCommand = optionalByte(try d.read(UInt16.self))
            s.output = optionalByte(try d.read(UInt16.self))
            return s
        }
        state.withLock { $0 = restored }
    }
}

extension FirmwareConfig: Snapshottable {
    public func saveState(to encoder: inout StateEncoder) {
        let c = cursor.withLock { $0 }
        encoder.section("fw_cfg") { e in
            e.append(c.key)
            e.append(UInt64(c.offset))
        }
    }

    public func restoreState(from decoder: inout StateDecoder) throws(VMMError) {
        let restored = try decoder.section("fw_cfg") { (d) throws(VMMError) -> Cursor in
            var c = Cursor()
            c.key = try d.read(UInt16.self)
            c.offset = Int(clamping: try d.read(UInt64.self))
            return c
        }
        cursor.withLock { $0 = restored }
    }
}

extension ACPIPowerManagement: Snapshottable {
    public func saveState(to encoder: inout StateEncoder) {
        let r = registers.withLock { $0 }
        let timer = timerValue()
        encoder.section("acpi-pm") { e in
            e.append(r.status)
            e.append(r.enable)
            e.append(r.control)
            e.append(r.gpeStatus)
            e.append(r.gpeEnable)
            e.append(timer)
        }
    }

    /// The SCI line is raised again if the saved registers assert it: the irqchip's saved
    /// state does not carry the level of a line user space drives.
    public func restoreState(from decoder: inout StateDecoder) throws(VMMError) {
        let (restored, timer) = try decoder.section("acpi-pm") { (d) throws(VMMError) -> (Registers, UInt32) in
            var r = Registers()
            r.status = try d.read(UInt16.self)
            r.enable = try d.read(UInt16.self)
            r.control = try d.read(UInt16.self)
            r.gpeStatus = try d.read(UInt16.self)
            r.gpeEnable = try d.read(UInt16.self)
            return (r, try d.read(UInt32.self))
        }
        setTimerValue(timer)
        update { r in
            r.status = restored.status
            r.enable = restored.enable
            r.control = restored.control
            r.gpeStatus = restored.gpeStatus
            r.gpeEnable = restored.gpeEnable
        }
    }
}
