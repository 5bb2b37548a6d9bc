import CKVM

/// A CPUID feature bit that `--cpu-features` can name.
public struct CPUFeature: Hashable, Sendable {
    public enum Register: Sendable { case ebx, ecx, edx }

    public let name: String
    public let leaf: UInt32
    public let subleaf: UInt32
    public let register: Register
    public let bit: UInt32

    /// The features a user can name, by their Linux /proc/cpuinfo spelling.
    public static let known: [CPUFeature] = [
        .init(name: "pcid", leaf: 1, subleaf: 0, register: .ecx, bit: 17),
        .init(name: "x2apic", leaf: 1, subleaf: 0, register: .ecx, bit: 21),
        .init(name: "popcnt", leaf: 1, subleaf: 0, register: .ecx, bit: 23),
        .init(name: "tsc-deadline", leaf: 1, subleaf: 0, register: .ecx, bit: 24),
        .init(name: "cx16", leaf: 1, subleaf: 0, register: .ecx, bit: 13),
        .init(name: "xsave", leaf: 1, subleaf: 0, register: .ecx, bit: 26),
        .init(name: "avx", leaf: 1, subleaf: 0, register: .ecx, bit: 28),
        .init(name: "rdrand", leaf: 1, subleaf: 0, register: .ecx, bit: 30),
        .init(name: "fsgsbase", leaf: 7, subleaf: 0, register: .ebx, bit: 0),
        .init(name: "avx2", leaf: 7, subleaf: 0, register: .ebx, bit: 5),
        .init(name: "smep", leaf: 7, subleaf: 0, register: .ebx, bit: 7),
        .init(name: "invpcid", leaf: 7, subleaf: 0, register: .ebx, bit: 10),
        .init(name: "rdseed", leaf: 7, subleaf: 0, register: .ebx, bit: 18),
        .init(name: "smap", leaf: 7, subleaf: 0, register: .ebx, bit: 20),
        .init(name: "avx512f", leaf: 7, subleaf: 0, register: .ebx, bit: 16),
        .init(name: "umip", leaf: 7, subleaf: 0, register: .ecx, bit: 2),
        .init(name: "pku", leaf: 7, subleaf: 0, register: .ecx, bit: 3),
        .init(name: "la57", leaf: 7, subleaf: 0, register: .ecx, bit: 16),
        .init(name: "arch-capabilities", leaf: 7, subleaf: 0, register: .edx, bit: 29),
    ]

    public static func named(_ name: String) -> CPUFeature? { known.first { $0.name == name } }

    /// What the emulator of a PVM host cannot execute in guest kernel mode, or what
    /// leads a guest kernel to such instructions (AVX needs XSAVE).
    public static let unsupportedOnPVM: [String] = [
        "cx16", "popcnt", "xsave", "avx", "avx2", "avx512f", "smap", "fsgsbase", "pku", "pcid",
        "invpcid", "arch-capabilities",
    ]

    /// What a PVM host runs, but so slowly in guest kernel mode that a guest is faster
    /// without it. With the TSC-deadline timer Linux's periodic tick reprograms the timer on
    /// every tick (an MSR write and clock reads, each emulated); offered only the LAPIC
    /// timer, it uses its periodic mode, which needs nothing per tick. Measured on the minimal
    /// Linux guest: see `docs/pvm.md`.
    public static let slowOnPVM: [String] = ["tsc-deadline"]
}

/// The user's `--cpu-features` choice: features to hide and to show, e.g. `-popcnt,+pcid`.
public struct CPUFeatureSelection: Equatable, Sendable {
    public var hidden: Set<String> = []
    public var shown: Set<String> = []

    public init() {}

    /// Parses a comma-separated list of `+name` / `-name`.
    public init(parsing text: String) throws(VMMError) {
        for item in text.split(separator: ",").map({ $0.trimmingCharacters() }) where !item.isEmpty {
            guard let sign = item.first, sign == "+" || sign == "-" else {
                throw .invalidConfiguration(
                    "--cpu-features: '\(item)' must start with + (show) or - (hide), e.g. -popcnt,+pcid")
            }
            let name = String(item.dropFirst())
            guard CPUFeature.named(name) != nil else {
                let names = CPUFeature.known.map(\.name).joined(separator: ", ")
                throw .invalidConfiguration("--cpu-features: unknown feature '\(name)'; known: \(names)")
            }
            if sign == "+" { shown.insert(name); hidden.remove(name) } else { hidden.insert(name); shown.remove(name) }
        }
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

extension CPUFeature {
    /// Whether `entry` (a CPUID leaf of this feature's leaf and subleaf) has the bit set.
    func isSet(in entry: kvm_cpuid_entry2) -> Bool {
        let value: UInt32
        switch register {
        case .ebx: value = entry.ebx
        case .ecx: value = entry.ecx
        case .edx: value = entry.edx
        }
        return value & (1 << bit) != 0
    }
}
