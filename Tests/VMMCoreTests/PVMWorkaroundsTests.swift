import Testing
@testable import VMMCore

struct PVMWorkaroundsTests {
    let stuck = PVMWorkarounds(visibleDespitePolicy: ["xsave", "avx", "popcnt", "smap", "fsgsbase"], hidden: ["cx16", "pcid"])

    @Test func linuxIsKeptOffWhatTheHostShowsAnyway() {
        #expect(stuck.kernelParameters(for: "console=ttyS0") == ["noxsave", "clearcpuid=popcnt,smap"])
    }

    @Test func theUsersOwnChoicesWin() {
        #expect(stuck.kernelParameters(for: "console=ttyS0 noxsave") == ["clearcpuid=popcnt,smap"])
        #expect(stuck.kernelParameters(for: "clearcpuid=cx16 console=ttyS0") == ["noxsave"])
        #expect(stuck.kernelParameters(for: "noxsave clearcpuid=popcnt") == [])
    }

    @Test func nothingIsAddedWhereMaskingWorks() {
        let masked = PVMWorkarounds(visibleDespitePolicy: [], hidden: ["xsave", "popcnt", "cx16"])
        #expect(masked.kernelParameters(for: "console=ttyS0") == [])
    }
}
