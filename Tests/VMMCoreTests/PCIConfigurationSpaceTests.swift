import Synchronization
import Testing

@testable import VMMCore

@Suite struct PCIConfigurationSpaceTests {
    static let identity = PCIIdentity(
        vendorID: 0x1af4, deviceID: 0x1042, revisionID: 1, classCode: 0x01_80_00, subsystemVendorID: 0x1af4,
        subsystemID: 0x0002)

    @Test func identityRegisters() {
        let space = PCIConfigurationSpace(identity: Self.identity, bars: [], capabilities: [])
        #expect(space.read(offset: 0x00, size: 4) == 0x1042_1af4)
        #expect(space.read(offset: 0x02, size: 2) == 0x1042)
        #expect(space.read(offset: 0x08, size: 4) == 0x0180_0001, "revision, then class code")
        #expect(space.read(offset: 0x0b, size: 1) == 0x01)
        #expect(space.read(offset: 0x0e, size: 1) == 0, "header type 0, single function")
        #expect(space.read(offset: 0x2c, size: 4) == 0x0002_1af4)
        #expect(space.read(offset: 0x3d, size: 1) == 1, "INTA#")
        #expect(space.read(offset: 0x06, size: 2) & 0x10 == 0, "no capability list")
        #expect(space.read(offset: 0x34, size: 1) == 0)
        #expect(space.read(offset: 0x100, size: 4) == 0, "no extended capabilities")
    }

    @Test func thirtyTwoBitBARSizingAndFixedAddress() {
        let space = PCIConfigurationSpace(identity: Self.identity, bars: [PCIBar(index: 1, size: 0x4000)], capabilities: [])
        space.assign(bar: 1, address: 0xc000_4000)
        #expect(space.read(offset: 0x14, size: 4) == 0xc000_4000)
        #expect(space.barAddress(1) == 0xc000_4000)

        space.write(offset: 0x14, size: 4, value: .max)
        #expect(space.read(offset: 0x14, size: 4) == 0xffff_c000, "size mask, memory, 32-bit, not prefetchable")
        #expect(space.read(offset: 0x15, size: 1) == 0xc0, "bytes of the size mask")
        // The guest restores the original; any other address reads back as the fixed one.
        space.write(offset: 0x14, size: 4, value: 0xd000_0000)
        #expect(space.read(offset: 0x14, size: 4) == 0xc000_4000)
        #expect(space.barAddress(1) == 0xc000_4000)

        for unimplemented in [0x10, 0x18, 0x1c, 0x20, 0x24] {
            space.write(offset: unimplemented, size: 4, value: .max)
            #expect(space.read(offset: unimplemented, size: 4) == 0, "BAR register 0x\(String(unimplemented, radix: 16))")
        }
    }

    @Test func sixtyFourBitBARSizingAndFixedAddress() {
        let bar = PCIBar(index: 2, size: 0x10_0000, is64Bit: true, isPrefetchable: true)
        let space = PCIConfigurationSpace(identity: Self.identity, bars: [bar], capabilities: [])
        space.assign(bar: 2, address: 0x1_2340_0000)
        #expect(space.read(offset: 0x18, size: 4) == 0x2340_000c, "64-bit, prefetchable")
        #expect(space.read(offset: 0x1c, size: 4) == 0x1)

        space.write(offset: 0x18, size: 4, value: .max)
        space.write(offset: 0x1c, size: 4, value: .max)
        #expect(space.read(offset: 0x18, size: 4) == 0xfff0_000c)
        #expect(space.read(offset: 0x1c, size: 4) == 0xffff_ffff)
        space.write(offset: 0x18, size: 4, value: 0x2340_000c)
        space.write(offset: 0x1c, size: 4, value: 1)
        #expect(space.read(offset: 0x18, size: 4) == 0x2340_000c && space.read(offset: 0x1c, size: 4) == 1)
    }

    @Test func commandRegisterKeepsOnlyItsWritableBits() {
        let space = PCIConfigurationSpace(identity: Self.identity, bars: [], capabilities: [])
        space.write(offset: 0x04, size: 2, value: 0xffff)
        #expect(space.read(offset: 0x04, size: 2) == 0x0406, "memory space, bus master, interrupt disable")
        #expect(space.isBusMasterEnabled && space.isInterruptDisabled)
        space.write(offset: 0x05, size: 1, value: 0)
        #expect(space.read(offset: 0x04, size: 2) == 0x0006 && !space.isInterruptDisabled)
        space.write(offset: 0x04, size: 1, value: 0x02)
        #expect(space.read(offset: 0x04, size: 2) == 0x0002 && !space.isBusMasterEnabled)
        space.write(offset: 0x04, size: 4, value: 0xffff_ffff)
        #expect(space.read(offset: 0x06, size: 2) == 0, "status is not writable")
    }

    @Test func readOnlyRegistersIgnoreWrites() {
        let space = PCIConfigurationSpace(identity: Self.identity, bars: [], capabilities: [])
        space.write(offset: 0x00, size: 4, value: 0)
        space.write(offset: 0x08, size: 4, value: 0)
        space.write(offset: 0x3c, size: 2, value: 0x0417)
        #expect(space.read(offset: 0x00, size: 4) == 0x1042_1af4)
        #expect(space.read(offset: 0x08, size: 4) == 0x0180_0001)
        #expect(space.read(offset: 0x3c, size: 2) == 0x0117, "interrupt line written, pin kept")
    }

    @Test func misalignedAndOutOfRangeAccesses() {
        let space = PCIConfigurationSpace(identity: Self.identity, bars: [], capabilities: [])
        #expect(space.read(offset: 0x01, size: 4) == .max)
        #expect(space.read(offset: 0x03, size: 2) == .max)
        #expect(space.read(offset: 4096, size: 1) == .max)
        #expect(space.read(offset: -4, size: 4) == .max)
        #expect(space.read(offset: 0, size: 3) == .max)
        space.write(offset: 0x03, size: 2, value: 0xffff)
        space.write(offset: 4094, size: 4, value: 0)
        #expect(space.read(offset: 0x04, size: 2) == 0)
    }

    @Test func capabilityChainWalk() {
        let written = Mutex<[Int]>([])
        let capabilities = [
            PCICapability(id: PCICapability.vendorSpecificID, body: [14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]),
            PCICapability(id: PCICapability.msixID, body: [0x03, 0x00, 1, 0, 0, 0, 1, 8, 0, 0], write: { offset, _, _ in
                written.withLock { $0.append(offset) }
            }),
            PCICapability(id: PCICapability.vendorSpecificID, body: [3]),
        ]
        let space = PCIConfigurationSpace(identity: Self.identity, bars: [], capabilities: capabilities)
        #expect(space.read(offset: 0x06, size: 2) & 0x10 != 0, "capability list bit")

        var walked: [(offset: Int, id: UInt32)] = []
        var pointer = Int(space.read(offset: 0x34, size: 1))
        while pointer != 0 && walked.count < 48 {
            #expect(pointer % 4 == 0 && pointer >= 0x40)
            walked.append((pointer, space.read(offset: pointer, size: 1)))
            pointer = Int(space.read(offset: pointer + 1, size: 1))
        }
        #expect(walked.map(\.id) == [0x09, 0x11, 0x09])
        #expect(walked.map(\.offset) == [0x40, 0x50, 0x5c])
        #expect(space.read(offset: 0x42, size: 2) == 0x010e, "vendor capability body")
        #expect(space.read(offset: 0x44, size: 4) == 0x0504_0302)
        #expect(space.read(offset: 0x52, size: 2) == 0x0003)
        #expect(space.read(offset: 0x58, size: 4) == 0x0000_0801)

        space.write(offset: 0x52, size: 2, value: 0x8000)
        space.write(offset: 0x5e, size: 1, value: 0)
        #expect(written.withLock { $0 } == [2], "writes reach the hook with capability-relative offsets")
        #expect(space.read(offset: 0x5e, size: 1) == 3, "a capability without a write hook is read-only")
    }

    @Test func capabilityReadHookServesTheBody() {
        let capability = PCICapability(id: 0x11, body: [0, 0, 0, 0, 0, 0], read: { offset, size in
            // Report which access reached the hook: offset in the low byte, size above.
            offset >= 4 ? nil : UInt32(offset) | UInt32(size) << 8
        })
        let space = PCIConfigurationSpace(identity: Self.identity, bars: [], capabilities: [capability])
        #expect(space.read(offset: 0x42, size: 2) == 0x0202)
        #expect(space.read(offset: 0x43, size: 1) == 0x03, "byte hook answer, truncated to the byte")
        #expect(space.read(offset: 0x44, size: 4) == 0, "nil falls back to the body bytes")
        // A dword at the capability start holds the ID and next pointer: built byte by byte.
        #expect(space.read(offset: 0x40, size: 4) == 0x0302_0011)
    }
}
