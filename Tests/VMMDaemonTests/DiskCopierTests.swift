import Foundation
import Glibc
import Testing
@testable import VMMDaemon

/// Disk copies for clones: content equal, holes kept, nothing left on failure.
@Suite struct DiskCopierTests {
    private let folder = FileManager.default.temporaryDirectory.appendingPathComponent("disk-copier-\(UUID().uuidString.prefix(8))").path

    private func allocatedBytes(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_blocks) * 512 : -1
    }

    @Test func aSparseImageIsCopiedWithItsHoles() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = "\(folder)/source.img", copy = "\(folder)/copy.img"
        #expect(FileManager.default.createFile(atPath: source, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: source))
        handle.write(Data(repeating: 0xa5, count: 4096))
        handle.seek(toFileOffset: 32 << 20)
        handle.write(Data("end of data".utf8))
        try handle.truncate(atOffset: 64 << 20)
        try handle.close()

        try DiskCopier.copy(source, to: copy)
        #expect(FileManager.default.contents(atPath: copy) == FileManager.default.contents(atPath: source))
        #expect(allocatedBytes(copy) < 1 << 20, "64 MiB with 8 KiB of data stays sparse: \(allocatedBytes(copy)) bytes allocated")

        // An existing target is not overwritten; a missing source leaves no target.
        #expect(throws: FileError.self) { try DiskCopier.copy(source, to: copy) }
        #expect(throws: FileError.self) { try DiskCopier.copy("\(folder)/missing.img", to: "\(folder)/other.img") }
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/other.img"))

        try DiskCopier.createSparse("\(folder)/empty.img", size: 8 << 20)
        #expect(try FileManager.default.attributesOfItem(atPath: "\(folder)/empty.img")[.size] as? Int == 8 << 20)
        #expect(allocatedBytes("\(folder)/empty.img") == 0)
    }
}
