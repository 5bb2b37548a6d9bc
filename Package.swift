// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "vmm",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "vmm", targets: ["vmm"]),
        .library(name: "VMMCore", targets: ["VMMCore"]),
        .library(name: "KVM", targets: ["KVM"]),
        .library(name: "VMMAPI", targets: ["VMMAPI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CKVM", path: "Modules/CKVM"),
        .target(name: "KVM", dependencies: ["CKVM"]),
        .target(name: "VMMCore", dependencies: ["KVM", "CKVM"]),
        .executableTarget(
            name: "vmm",
            dependencies: [
                "VMMCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "VMMAPI"),
        .testTarget(name: "VMMCoreTests", dependencies: ["VMMCore"]),
        .testTarget(name: "VMMIntegrationTests", dependencies: ["VMMCore", "KVM"]),
    ],
    swiftLanguageModes: [.v6]
)
