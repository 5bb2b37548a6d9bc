import Foundation
import Testing
import VMMCore

/// What vmm says about hidden CPU features is what a guest sees: the `cpuid` test kernel
/// prints the registers, vmm's log names what it hides and what the host shows regardless.
@Suite(.enabled(if: TestEnvironment.kvmAvailable))
struct CPUIDVisibilityTests {
    @Test func theLogTellsTheTruthAboutHiddenFeatures() throws {
        let result = try VMMProcess.run(
            ["run", "--kernel", try TestEnvironment.guest("cpuid"), "--cpu-features=-popcnt,-cx16,-pcid"])
        #expect(result.status == 1)
        let leaves = Self.parse(result.lines)
        let line = result.standardError.split(separator: "\n").first { $0.contains("CPUID hides") }.map(String.init)
        let claims = try #require(line.map(Self.claims), "vmm names what it hides: \(result.standardError)")
        #expect(claims.hidden.contains("cx16") || claims.shown.contains("cx16"))
        for feature in CPUFeature.known where claims.hidden.contains(feature.name) || claims.shown.contains(feature.name) {
            let registers = try #require(leaves["\(feature.leaf).\(feature.subleaf)"])
            let value = registers[feature.register] ?? 0
            let visible = value & (1 << feature.bit) != 0
            if claims.hidden.contains(feature.name) {
                #expect(!visible, "vmm says it hides \(feature.name), but the guest sees it")
            } else {
                #expect(visible, "vmm says the host shows \(feature.name), but the guest does not see it")
            }
        }
    }

    /// "cpuid: 7.0 ebx=f1bf03ab ecx=5f46 edx=110" → ["7.0": [.ebx: ..., ...]]
    static func parse(_ lines: [String]) -> [String: [CPUFeature.Register: UInt32]] {
        var leaves: [String: [CPUFeature.Register: UInt32]] = [:]
        for line in lines where line.hasPrefix("cpuid: ") {
            let fields = line.dropFirst("cpuid: ".count).split(separator: " ")
            guard let key = fields.first else { continue }
            var registers: [CPUFeature.Register: UInt32] = [:]
            for field in fields.dropFirst() {
                let parts = field.split(separator: "=")
                guard parts.count == 2, let value = UInt32(parts[1], radix: 16) else { continue }
                switch parts[0] {
                case "ebx": registers[.ebx] = value
                case "ecx": registers[.ecx] = value
                case "edx": registers[.edx] = value
                default: break
                }
            }
            leaves[String(key)] = registers
        }
        return leaves
    }

    /// "…CPUID hides a, b; the host shows c, d regardless…" (the second part only on hosts
    /// that cannot mask every bit, such as PVM).
    static func claims(_ line: String) -> (hidden: Set<String>, shown: Set<String>) {
        func names(after marker: String, until end: String) -> Set<String> {
            guard let start = line.range(of: marker) else { return [] }
            let rest = line[start.upperBound...]
            let text = rest.range(of: end).map { rest[..<$0.lowerBound] } ?? rest
            return Set(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0 != "nothing" })
        }
        return (names(after: "CPUID hides ", until: ";"), names(after: "the host shows ", until: " regardless"))
    }
}
