import Foundation
import Testing

/// The `virtio` test kernel's own virtio-pci driver against vmm's devices: it finds them
/// by PCI enumeration, uses the disk, the NIC and the entropy source, and misbehaves on
/// purpose to see that vmm refuses without harm.
@Suite(.enabled(if: TestEnvironment.kvmAvailable))
struct VirtioGuestTests {
    /// A 1 MiB image whose sector 0 starts with a marker the guest prints back.
    private func diskImage() throws -> TemporaryFile {
        let image = try TemporaryFile(size: 1 << 20)
        let handle = try #require(FileHandle(forWritingAtPath: image.path))
        handle.write(Data("VMM-VIRTIO-DISK0".utf8))
        try handle.close()
        return image
    }

    /// Sectors 1...8 as the guest writes them: "vmm-virtio-blk sector N\n", then (i + N) & 0xff.
    private func expectGuestPattern(in path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        for sector in 1...8 {
            let bytes = [UInt8](data[(sector * 512)..<((sector + 1) * 512)])
            let text = Array("vmm-virtio-blk sector \(sector)\n".utf8)
            #expect(Array(bytes[..<text.count]) == text, "sector \(sector) text")
            #expect(bytes.indices.dropFirst(text.count).allSatisfy { bytes[$0] == UInt8(($0 + sector) & 0xff) }, "sector \(sector) pattern")
        }
    }

    @Test func guestFindsDiskAndEntropyOnPCIAndTheWritesReachTheImage() throws {
        let image = try diskImage()
        let result = try VMMProcess.run([
            "run", "--kernel", try TestEnvironment.guest("virtio"), "--cmdline", "test=all", "--disk", image.path,
        ])
        #expect(result.lines.contains("virtio: 00:01.0 blk 1af4:1042"), "\(result.standardOutput)\(result.standardError)")
        #expect(result.lines.contains("virtio: 00:02.0 rng 1af4:1044"))
        #expect(result.lines.contains("blk: capacity 2048 sectors"))
        #expect(result.lines.contains("blk: sector0 VMM-VIRTIO-DISK0"))
        for line in ["blk: write ok", "blk: flush ok", "blk: read back ok", "rng: 32 bytes", "virtio: done"] {
            #expect(result.lines.contains(line), "missing \(line)")
        }
        #expect(result.lines.contains { $0.hasPrefix("blk: id vmm-") })
        #expect(result.status == 1)
        try expectGuestPattern(in: image.path)
    }

    @Test func readOnlyDiskRejectsWritesAndTheImageStaysUnchanged() throws {
        let image = try diskImage()
        let before = try Data(contentsOf: URL(fileURLWithPath: image.path))
        let result = try VMMProcess.run([
            "run", "--kernel", try TestEnvironment.guest("virtio"), "--cmdline", "test=blk",
            "--disk", "\(image.path),readonly",
        ])
        #expect(result.lines.contains("blk: read-only"), "\(result.standardOutput)\(result.standardError)")
        #expect(result.lines.contains("blk: read-only write rejected"))
        #expect(result.status == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: image.path)) == before)
    }

    @Test func withoutRNGTheGuestFindsNone() throws {
        let result = try VMMProcess.run([
            "run", "--kernel", try TestEnvironment.guest("virtio"), "--cmdline", "test=rng", "--no-rng",
        ])
        #expect(result.lines.contains("FAIL rng: no device"), "\(result.standardOutput)")
        #expect(result.status == 3)
    }

    /// Every way the guest breaks the virtqueue rules ends in an error or NEEDS_RESET, the
    /// device works again after the driver resets it, and vmm itself carries on.
    @Test func hostileDriverCannotHurtTheHostAndTheDeviceRecovers() throws {
        let image = try diskImage()
        let result = try VMMProcess.run([
            "run", "--kernel", try TestEnvironment.guest("virtio"), "--cmdline", "hostile=all", "--disk", image.path,
        ], timeout: 120)
        let modes = ["loop", "long", "oob", "oob32", "straddle", "huge", "direction", "size", "index", "indirect", "nested"]
        for mode in modes {
            let report = result.lines.first { $0.hasPrefix("hostile \(mode): ") && !$0.hasSuffix("works after reset") }
            #expect(report?.hasSuffix("NEEDS_RESET") == true, "\(mode): \(report ?? "no report")\n\(result.standardOutput)")
            #expect(result.lines.contains("hostile \(mode): device works after reset"))
        }
        // Notifying before DRIVER_OK is harmless: the request is served once the driver is ready.
        #expect(result.lines.contains { $0.hasPrefix("hostile early: before DRIVER_OK no used entry, after DRIVER_OK used entry") })
        #expect(result.lines.contains("hostile early: device works after reset"))
        #expect(result.standardError.contains("needs reset"))
        #expect(result.lines.contains("virtio: done"))
        #expect(result.status == 1)
    }

    /// A frame from the guest shows up on the tap (inside a namespace of the test's own),
    /// and a frame sent into the tap reaches the guest.
    @Test(.enabled(if: NetworkNamespace.available, "needs root and iproute2 for a network namespace"))
    func guestSendsAndReceivesFramesThroughTheTap() throws {
        let namespace = try NetworkNamespace()
        try namespace.addTap("vmmtap0")
        let responder = try TemporaryFile(contents: Self.frameResponder)
        let capture = try TemporaryFile(contents: "")
        let host = try namespace.start(["python3", responder.path, "vmmtap0", capture.path])
        defer { _ = host.stop() }
        #expect(host.waitForOutput("listening", timeout: 20))

        let result = try HostCommand.run(namespace.command([
            TestEnvironment.vmmBinary, "run", "--kernel", try TestEnvironment.guest("virtio"), "--cmdline", "test=net",
            "--net", "tap=vmmtap0,mac=52:54:00:12:34:56",
        ]), timeout: 60)
        let lines = result.standardOutput.split(whereSeparator: \.isNewline).map(String.init)
        #expect(lines.contains("net: mac 52:54:00:12:34:56"), "\(result.standardOutput)\(result.standardError)")
        #expect(lines.contains("net: sent"))
        #expect(lines.contains("net: received hello-from-host"))
        #expect(result.status == 1)
        #expect(try String(contentsOfFile: capture.path, encoding: .utf8) == "vmm-virtio-net-test from 52:54:00:12:34:56")
    }

    /// Waits on the tap for the guest's 0x88b5 frame, records its payload and answers it.
    static let frameResponder = #"""
        import socket, sys
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
        s.bind((sys.argv[1], 0x88b5))
        s.settimeout(60)
        print("listening", flush=True)
        while True:
            frame, address = s.recvfrom(2048)
            if address[2] == socket.PACKET_OUTGOING or len(frame) < 14:
                continue
            open(sys.argv[2], "wb").write(frame[14:].rstrip(b"\0"))
            reply = frame[6:12] + bytes.fromhex("020000000002") + b"\x88\xb5" + b"hello-from-host"
            s.send(reply + bytes(max(0, 60 - len(reply))))
            break
        """#
}
