#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import VMMCore

@Suite struct VirtioBlockImageTests {
    private func openingError(_ path: String, readOnly: Bool = false) -> VMMError? {
        do {
            _ = try BlockImage(path: path, readOnly: readOnly)
            return nil
        } catch {
            return error
        }
    }

    @Test func aWritableImageIsLockedAgainstEveryOtherOpen() throws {
        let image = TemporaryImage(size: 4096)
        let first = try BlockImage(path: image.path, readOnly: false)
        for readOnly in [false, true] {
            let error = try #require(openingError(image.path, readOnly: readOnly))
            #expect(error.isUserError)
            #expect(error.description.hasPrefix("disk \(image.path) is in use by another VM (locked): "))
        }
        _ = first
    }

    @Test func readOnlyOpensShareTheImage() throws {
        let image = TemporaryImage(size: 4096)
        let first = try BlockImage(path: image.path, readOnly: true)
        let second = try BlockImage(path: image.path, readOnly: true)
        #expect(first.isReadOnly && second.isReadOnly)
        #expect(first.size == 4096)
        #expect(openingError(image.path)?.description.contains("in use by another VM (locked)") == true)
    }

    @Test func closingReleasesTheLock() throws {
        let image = TemporaryImage(size: 4096)
        do { _ = try BlockImage(path: image.path, readOnly: false) }
        _ = try BlockImage(path: image.path, readOnly: false)
    }

    @Test func userMistakesAreExplained() throws {
        let missing = "/tmp/vmm-blk-test-missing-\(getpid()).img"
        let error = try #require(openingError(missing))
        #expect(error.isUserError)
        #expect(error.description
            == "disk image \(missing): No such file or directory: create it with truncate -s 1G \(missing) or fix the path")

        let ragged = TemporaryImage(size: 1000)
        let raggedError = try #require(openingError(ragged.path))
        #expect(raggedError.isUserError)
        #expect(raggedError.description.contains("1000 bytes, not a multiple of 512"))

        let empty = TemporaryImage(size: 0)
        #expect(openingError(empty.path)?.description.contains("is empty") == true)

        let directory = try #require(openingError("/tmp", readOnly: true))
        #expect(directory.isUserError)
        #expect(directory.description.contains("not a regular file or a block device"))
    }

    @Test func readsAndWritesLandAtTheirOffsetsAcrossManyBuffers() throws {
        let image = TemporaryImage(size: 1 << 20)
        let storage = try BlockImage(path: image.path, readOnly: false)
        let data = pattern(count: 3 * 512)
        // Typed-throwing closures inside withUnsafeBytes crash Swift 6.3.1's IR generation.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: data.count, alignment: 16)
        defer { buffer.deallocate() }
        buffer.copyBytes(from: data)
        let pieces = [buffer[0..<1], buffer[1..<700], buffer[700..<700], buffer[700..<1536]]
        try storage.write(from: pieces.map { UnsafeRawBufferPointer(rebasing: $0) }, at: 4096)
        #expect(image.read(at: 4096, count: data.count) == data)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        try storage.read(into: [.init(rebasing: buffer[0..<1000]), .init(rebasing: buffer[1000...])], at: 4096)
        #expect(Array(buffer) == data)
        try storage.flush()
        #expect(throws: VMMError.self) { try storage.read(into: [buffer], at: (1 << 20) - 512) }
    }
}
