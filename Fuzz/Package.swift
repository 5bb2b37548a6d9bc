// swift-tools-version:6.0
// libFuzzer targets for the parsers that read guest-controlled memory. Built and run by
// Fuzz/run.sh with -sanitize=fuzzer,address; kept out of the main package because every
// module they link gets instrumented.
import PackageDescription

let package = Package(
    name: "vmm-fuzz",
    dependencies: [.package(name: "vmm", path: "..")],
    targets: [
        .executableTarget(name: "VirtqueueFuzzer", dependencies: [.product(name: "VMMCore", package: "vmm")]),
    ],
    swiftLanguageModes: [.v6]
)
