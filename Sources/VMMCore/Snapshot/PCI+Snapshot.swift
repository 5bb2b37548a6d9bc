/// Saved state of PCI configuration spaces and MSI-X tables.

extension PCIConfigurationSpace {
    func saveState(to encoder: inout StateEncoder) {
        let s = state.withLock { $0 }
        encoder.section("pci-config") { e in
            e.append(bytes: s.bytes)
            for address in s.barAddresses { e.append(address ?? .max) }
            e.append(UInt8(s.sizing.reduce(0) { $0 | 1 << $1 }))
        }
    }

    /// BARs are placed when the machine is built, so a restored machine must have put them
    /// where the saved one had them; anything else means another device layout.
    func restoreState(from decoder: inout StateDecoder) throws(VMMError) {
        let current = state.withLock { $0 }
        let restored = try decoder.section("pci-config") { (d) throws(VMMError) -> State in
            var s = current
            s.bytes = try d.readBytes()
            guard s.bytes.count == Self.size else { throw d.malformed("\(s.bytes.count) configuration bytes") }
            for index in s.barAddresses.indices {
                let saved = try d.read(UInt64.self)
                guard saved == (current.barAddresses[index] ?? .max) else {
                    throw d.malformed("BAR \(index) was at 0x\(String(saved, radix: 16)), this machine places it elsewhere")
                }
            }
            let sizing = try d.read(UInt8.self)
            s.sizing = Set((0..<6).filter { sizing & (1 << $0) != 0 })
            return s
        }
        state.withLock { $0 = restored }
    }
}

extension MSIXTable {
    func saveState(to encoder: inout StateEncoder) {
        let s = state.withLock { $0 }
        encoder.section("msix") { e in
            e.append(s.enabled)
            e.append(s.functionMasked)
            e.append(UInt32(s.entries.count))
            for entry in s.entries {
                e.append(entry.addressLow)
                e.append(entry.addressHigh)
                e.append(entry.data)
                e.append(entry.masked)
                e.append(entry.pending)
            }
        }
    }

    /// Restores the table, then routes every deliverable vector (and fires those pending).
    func restoreState(from decoder: inout StateDecoder) throws(VMMError) {
        let vectorCount = self.vectorCount
        let (enabled, functionMasked, entries) = try decoder.section("msix") {
            (d) throws(VMMError) -> (Bool, Bool, [Entry]) in
            let enabled = try d.readBool()
            let functionMasked = try d.readBool()
            let count = Int(try d.read(UInt32.self))
            guard count == vectorCount else { throw d.malformed("\(count) MSI-X vectors, this device has \(vectorCount)") }
            var entries: [Entry] = []
            for _ in 0..<count {
                var entry = Entry()
                entry.addressLow = try d.read(UInt32.self)
                entry.addressHigh = try d.read(UInt32.self)
                entry.data = try d.read(UInt32.self)
                entry.masked = try d.readBool()
                entry.pending = try d.readBool()
                entries.append(entry)
            }
            return (enabled, functionMasked, entries)
        }
        state.withLock { state in
            state.entries = entries
            state.enabled = enabled
            state.functionMasked = functionMasked
            for index in state.entries.indices { service(index, &state) }
        }
    }
}

extension PCIHostBridge: Snapshottable {
    public func saveState(to encoder: inout StateEncoder) { configuration.saveState(to: &encoder) }

    public func restoreState(from decoder: inout StateDecoder) throws(VMMError) {
        try configuration.restoreState(from: &decoder)
    }
}
