import CKVM
import Testing
@testable import VMMCore

@Suite struct CPUIDPolicyTests {
    static func entry(_ function: UInt32, _ index: UInt32 = 0, eax: UInt32 = 0, ebx: UInt32 = 0, ecx: UInt32 = 0,
                      edx: UInt32 = 0) -> kvm_cpuid_entry2 {
        var entry = kvm_cpuid_entry2()
        entry.function = function
        entry.index = index
        entry.eax = eax
        entry.ebx = ebx
        entry.ecx = ecx
        entry.edx = edx
        return entry
    }

    static let allOnes: UInt32 = 0xffff_ffff
    /// A host that reports every feature bit.
    static let supported: [kvm_cpuid_entry2] = [
        entry(0x0, eax: 0x1F),
        entry(0x1, eax: 0x000A_0655, ebx: 0xAB12_0800, ecx: 0x7fff_ffff, edx: allOnes),
        entry(0x4, 0, eax: 0xffff_ffff),
        entry(0x7, 0, ebx: allOnes, ecx: allOnes, edx: allOnes),
        entry(0x7, 1, eax: allOnes, ebx: allOnes),
        entry(0xB, 0), entry(0xB, 1), entry(0xB, 2),
        entry(0xD, 0, eax: 0x2e7), entry(0xD, 1, eax: 0xf),
        entry(0x1F, 1),
        entry(0x8000_0008, eax: 0x3030, ecx: 0xffff_ffff),
        entry(0x8000_001E, eax: 7, ebx: 0x0100),
    ]

    func entries(cpus: Int = 4, apicID: UInt32 = 3, hidden: Set<String> = [], tscDeadline: Bool = false)
        -> [kvm_cpuid_entry2]
    {
        CPUIDPolicy(supported: Self.supported, cpuCount: cpus, hiddenFeatures: hidden, offerTSCDeadline: tscDeadline)
            .entries(forAPICID: apicID)
    }

    func find(_ entries: [kvm_cpuid_entry2], _ function: UInt32, _ index: UInt32 = 0) -> kvm_cpuid_entry2? {
        entries.first { $0.function == function && $0.index == index }
    }

    @Test func leaf1CarriesAPICIDCountAndHypervisorBit() throws {
        let leaf1 = try #require(find(entries(cpus: 4, apicID: 3), 1))
        #expect(leaf1.ebx >> 24 == 3)
        #expect((leaf1.ebx >> 16) & 0xff == 4)
        #expect(leaf1.ebx & 0xffff == 0x0800, "brand index and CLFLUSH size kept")
        #expect(leaf1.ecx & (1 << 31) != 0, "hypervisor present")
        #expect(leaf1.edx & (1 << 28) != 0, "HTT with several logical CPUs")
        #expect(leaf1.eax == 0x000A_0655)
    }

    @Test func singleCPUHasNoHTT() throws {
        let leaf1 = try #require(find(entries(cpus: 1, apicID: 0), 1))
        #expect(leaf1.edx & (1 << 28) == 0)
        #expect(leaf1.ebx >> 24 == 0)
    }

    @Test func hiddenFeaturesAreClearedAndOthersKept() throws {
        let result = entries(hidden: ["popcnt", "smep", "umip", "arch-capabilities"])
        let leaf1 = try #require(find(result, 1))
        #expect(leaf1.ecx & (1 << 23) == 0, "popcnt")
        #expect(leaf1.ecx & (1 << 17) != 0, "pcid untouched")
        let leaf7 = try #require(find(result, 7, 0))
        #expect(leaf7.ebx == Self.allOnes & ~(1 << 7))
        #expect(leaf7.ecx == Self.allOnes & ~(1 << 2))
        #expect(leaf7.edx == Self.allOnes & ~(1 << 29))
        let leaf7s1 = try #require(find(result, 7, 1))
        #expect(leaf7s1.ebx == Self.allOnes, "subleaf 1 is a different leaf")
    }

    @Test func hidingXSAVEDropsLeafDAndOSXSAVE() throws {
        let result = entries(hidden: ["xsave"])
        #expect(!result.contains { $0.function == 0xD })
        let leaf1 = try #require(find(result, 1))
        #expect(leaf1.ecx & (1 << 26) == 0)
        #expect(leaf1.ecx & (1 << 27) == 0)
        #expect(entries().filter { $0.function == 0xD }.count == 2, "kept when xsave is shown")
    }

    @Test func tscDeadlineIsOfferedUnlessHidden() throws {
        #expect(try #require(find(entries(tscDeadline: true), 1)).ecx & (1 << 24) != 0)
        #expect(try #require(find(entries(hidden: ["tsc-deadline"], tscDeadline: true), 1)).ecx & (1 << 24) == 0)
    }

    @Test(arguments: [0xB, 0x1F] as [UInt32])
    func extendedTopologyDescribesOneThreadPerCore(leaf: UInt32) throws {
        let result = entries(cpus: 3, apicID: 2)
        let smt = find(result, leaf, 0)
        let core = try #require(find(result, leaf, 1))
        if let smt {
            #expect(smt.edx == 2)
            #expect(smt.ecx == 0x100, "level 0, type SMT")
            #expect(smt.ebx == 1)
            #expect(smt.eax == 0)
        } else {
            #expect(leaf == 0x1F)
        }
        #expect(core.edx == 2, "x2APIC id")
        #expect(core.ecx == 0x201, "level 1, type core")
        #expect(core.ebx == 3)
        #expect(core.eax == 2, "shift covering 3 cores")
        if leaf == 0xB {
            let invalid = try #require(find(result, leaf, 2))
            #expect(invalid.ecx == 2, "type invalid ends the enumeration")
            #expect(invalid.ebx == 0)
        }
    }

    @Test func amdLeavesCarryCoreCountAndAPICID() throws {
        let result = entries(cpus: 4, apicID: 3)
        let sizes = try #require(find(result, 0x8000_0008))
        #expect(sizes.ecx & 0xff == 3)
        #expect((sizes.ecx >> 12) & 0xf == 2)
        #expect(sizes.eax == 0x3030)
        let ids = try #require(find(result, 0x8000_001E))
        #expect(ids.eax == 3)
        #expect(ids.ebx & 0xff00 == 0)
    }

    @Test func cacheLeafCountsCores() throws {
        let leaf4 = try #require(find(entries(cpus: 4), 4))
        #expect(leaf4.eax >> 26 == 3)
        #expect((leaf4.eax >> 14) & 0xfff == 0)
        #expect(leaf4.eax & 0x3fff == 0x3fff)
    }

    @Test func defaultHiddenFeaturesOnPVMHostHonourTheUsersChoice() throws {
        let selection = try CPUFeatureSelection(parsing: "+pcid,-la57")
        let hidden = CPUIDPolicy.defaultHiddenFeatures(onPVMHost: true, selection: selection)
        #expect(hidden.contains("popcnt"))
        #expect(hidden.contains("la57"))
        #expect(!hidden.contains("pcid"))
        #expect(CPUIDPolicy.defaultHiddenFeatures(onPVMHost: false, selection: selection) == ["la57"])
    }

    /// On a PVM host Linux's tick is cheaper on the LAPIC's periodic mode than on the
    /// TSC-deadline timer, so vmm does not offer it there unless asked (+tsc-deadline).
    @Test func tscDeadlineIsHiddenByDefaultOnlyOnPVMHosts() throws {
        let none = CPUFeatureSelection()
        let onPVM = CPUIDPolicy.defaultHiddenFeatures(onPVMHost: true, selection: none)
        #expect(onPVM.contains("tsc-deadline"))
        #expect(!CPUIDPolicy.defaultHiddenFeatures(onPVMHost: false, selection: none).contains("tsc-deadline"))
        let asked = try CPUFeatureSelection(parsing: "+tsc-deadline")
        #expect(!CPUIDPolicy.defaultHiddenFeatures(onPVMHost: true, selection: asked).contains("tsc-deadline"))
        let policy = CPUIDPolicy(supported: Self.supported, cpuCount: 1, hiddenFeatures: onPVM, offerTSCDeadline: true)
        let leaf1 = try #require(policy.entries(forAPICID: 0).first { $0.function == 1 })
        #expect(leaf1.ecx & (1 << 24) == 0)
    }
}
