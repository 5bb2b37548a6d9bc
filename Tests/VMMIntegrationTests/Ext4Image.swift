import Foundation

/// A whole-disk ext4 image made on the host with `mkfs.ext4 -d` from a staging folder,
/// removed when the value goes away. It always holds `markerPath` with `markerContents`.
///
/// An ext4 file system leaves its first 1024 bytes (the boot block) alone, and a disk
/// without a partition table makes Linux's partition scan print nothing. So the image gets
/// a DOS partition table in sector 0 describing one partition (type 0x83, from sector 2048
/// to the end): the kernel then prints ` vda: vda1`, proof that it read sector 0 through
/// the device, while `root=/dev/vda` still mounts the whole disk. The partition overlaps
/// the file system and is never used.
final class Ext4Image {
    static let markerPath = "/vmm-marker"
    static let markerContents = "vmm virtio-blk test image"

    let path: String
    let sizeMiB: Int
    private let staging: String

    /// - Parameters:
    ///   - files: more files, path in the image → (contents, executable).
    ///   - withBusybox: puts the static busybox in as /bin/busybox with one symlink per
    ///     applet (as scripts/build-linux-guest.sh does for the initramfs), and the folders
    ///     an init needs (/proc, /sys, /dev, /tmp).
    init(sizeMiB: Int = 32, files: [String: (contents: String, executable: Bool)] = [:], withBusybox: Bool = false) throws {
        let base = NSTemporaryDirectory() + "vmm-ext4-\(UUID().uuidString)"
        staging = base + ".root"
        path = base + ".img"
        self.sizeMiB = sizeMiB
        let fileManager = FileManager.default
        do {
            try fileManager.createDirectory(atPath: staging, withIntermediateDirectories: true)
            var all = files
            all[Self.markerPath] = (Self.markerContents + "\n", false)
            if withBusybox { try Self.addBusybox(to: staging) }
            for (file, entry) in all {
                let target = staging + file
                try fileManager.createDirectory(
                    atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try entry.contents.write(toFile: target, atomically: false, encoding: .utf8)
                try fileManager.setAttributes([.posixPermissions: entry.executable ? 0o755 : 0o644], ofItemAtPath: target)
            }
            try HostCommand.check(["mkfs.ext4", "-q", "-F", "-L", "vmmtest", "-d", staging, path, "\(sizeMiB)M"])
            try writePartitionTable()
        } catch {
            cleanUp()
            throw error
        }
    }

    deinit { cleanUp() }

    private func cleanUp() {
        try? FileManager.default.removeItem(atPath: staging)
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The image's size in 512-byte sectors, as virtio-blk reports it.
    var sectors: Int { sizeMiB * 2048 }

    /// A file's contents in the image, read on the host with debugfs (the VM must have stopped).
    func read(_ file: String) throws -> String {
        let result = try HostCommand.check(["debugfs", "-R", "cat \(file)", path])
        return result.standardOutput
    }

    /// e2fsck's verdict on the image, without changing it.
    func check() throws -> HostCommand.Result {
        try HostCommand.run(["e2fsck", "-f", "-n", path])
    }

    private func writePartitionTable() throws {
        guard let handle = FileHandle(forUpdatingAtPath: path) else {
            throw TestSetupError("cannot open \(path) to write its partition table")
        }
        defer { try? handle.close() }
        var entry = [UInt8](repeating: 0, count: 16)
        entry[4] = 0x83
        func put(_ value: UInt32, at offset: Int) {
            for i in 0..<4 { entry[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        }
        put(2048, at: 8)
        put(UInt32(sectors - 2048), at: 12)
        try handle.seek(toOffset: 446)
        try handle.write(contentsOf: entry)
        try handle.seek(toOffset: 510)
        try handle.write(contentsOf: [0x55, 0xAA])
    }

    private static func addBusybox(to root: String) throws {
        let busybox = "/bin/busybox"
        guard FileManager.default.isExecutableFile(atPath: busybox) else {
            throw TestSetupError("\(busybox) is missing: apt-get install busybox-static")
        }
        let fileManager = FileManager.default
        for folder in ["bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "etc", "root"] {
            try fileManager.createDirectory(atPath: "\(root)/\(folder)", withIntermediateDirectories: true)
        }
        try fileManager.copyItem(atPath: busybox, toPath: "\(root)/bin/busybox")
        let applets = try HostCommand.check([busybox, "--list-full"]).standardOutput
        for applet in Set(applets.split(whereSeparator: \.isNewline).map(String.init)) where applet != "bin/busybox" {
            try? fileManager.createSymbolicLink(atPath: "\(root)/\(applet)", withDestinationPath: "/bin/busybox")
        }
    }
}
