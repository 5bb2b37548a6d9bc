// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "vmm",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "vmm", targets: ["vmm"]),
        .executable(name: "vmmd", targets: ["vmmd"]),
        .executable(name: "vmctl", targets: ["vmctl"]),
        .library(name: "VMMCore", targets: ["VMMCore"]),
        .library(name: "KVM", targets: ["KVM"]),
        .library(name: "VMMAPI", targets: ["VMMAPI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
    ],
    targets: [
        .systemLibrary(name: "CKVM", path: "Modules/CKVM"),
        .systemLibrary(name: "CTap", path: "Modules/CTap"),
        .systemLibrary(name: "CLinux", path: "Modules/CLinux"),
        .systemLibrary(name: "CSeccomp", path: "Modules/CSeccomp"),
        .systemLibrary(name: "CJail", path: "Modules/CJail"),
        // Per-thread seccomp filters, built as BPF here: no libseccomp at run time.
        .target(name: "Seccomp", dependencies: ["CSeccomp", "CKVM", "CTap"]),
        .target(name: "KVM", dependencies: ["CKVM"]),
        .target(name: "Sizes"),
        .target(name: "DeviceOptions", dependencies: ["Sizes"]),
        .target(name: "CommandLineOptions"),
        .target(name: "VMMCore", dependencies: ["KVM", "CKVM", "CTap", "CLinux", "DeviceOptions", "Seccomp"]),
        .executableTarget(
            name: "vmm",
            // No swift-argument-parser, nor anything else that links Foundation: this is the
            // process every VM runs in, and its memory and start-up are the per-VM price.
            dependencies: ["VMMCore", "Seccomp", "Sizes", "CommandLineOptions", "CJail"],
            // Release builds are static PIEs (bench/README.md, "Memory and start-up"): no
            // shared libraries to map and bind, ASLR kept. lld links them
            // (scripts/link-static-pie drops the rpath SwiftPM adds, which glibc's static-PIE
            // start-up refuses), with packed relative relocations (RELR: 5 KB, not 490 KB
            // read at every start) and the functions start-up runs first and together
            // (scripts/vmm-symbol-order.txt, made by scripts/make-symbol-order.sh).
            linkerSettings: [
                .unsafeFlags(
                    ["-static-stdlib", "-use-ld=\(Context.packageDirectory)/scripts/link-static-pie",
                     "-Xclang-linker", "-static-pie", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                     "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/scripts/vmm-symbol-order.txt",
                     "-Xlinker", "--no-warn-symbol-ordering"],
                    .when(platforms: [.linux], configuration: .release)),
            ]
        ),
        .target(
            name: "VMMAPI",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(
            name: "Etcd",
            dependencies: ["VMMAPI", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio")]
        ),
        .target(
            name: "VMMDaemon",
            dependencies: [
                "VMMAPI",
                "Etcd",
                "CLinux",
                "KVM",
                "DeviceOptions",
                "Sizes",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "vmmd",
            dependencies: ["VMMDaemon", "VMMAPI", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "vmctl",
            dependencies: ["VMMAPI", "Sizes", "DeviceOptions", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // posix_spawn for the tests' child processes (Foundation's Process.run can crash).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "VMMCoreTests", dependencies: ["VMMCore", "TestSupport"]),
        .testTarget(name: "SizesTests", dependencies: ["Sizes"]),
        .testTarget(name: "DeviceOptionsTests", dependencies: ["DeviceOptions", "Sizes"]),
        .testTarget(name: "SeccompTests", dependencies: ["Seccomp"]),
        .testTarget(name: "CommandLineOptionsTests", dependencies: ["CommandLineOptions"]),
        .testTarget(name: "vmmTests", dependencies: ["vmm", "CommandLineOptions"]),
        .testTarget(name: "VMMIntegrationTests", dependencies: ["VMMCore", "KVM", "TestSupport"]),
        .testTarget(name: "VMMAPITests", dependencies: ["VMMAPI"]),
        // Fixtures several test targets share (a real etcd cluster, free ports).
        .target(name: "ClusterTestSupport", dependencies: ["VMMAPI", "TestSupport"], path: "Tests/ClusterTestSupport"),
        .testTarget(name: "EtcdTests", dependencies: ["Etcd", "VMMAPI", "ClusterTestSupport"]),
        .testTarget(name: "vmctlTests", dependencies: ["vmctl", "VMMAPI"]),
        .testTarget(name: "VMMDaemonTests", dependencies: ["VMMDaemon", "VMMAPI", "DeviceOptions", "ClusterTestSupport", "Etcd", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
