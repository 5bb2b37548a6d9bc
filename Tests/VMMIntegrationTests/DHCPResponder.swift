import Foundation

/// A one-client DHCP server on a tap, run with python3 inside a test's network namespace
/// (AF_PACKET, so it needs no address on the tap and sees frames from any MAC). It prints
/// one line per DHCP message it receives (`DHCPDISCOVER from 52:54:00:12:34:56 (frame
/// source ...)`) and, when answering, one per reply it sends; DISCOVER gets an OFFER and
/// REQUEST an ACK of `clientAddress`/24 with `serverAddress` as server id and router.
///
/// It lets kernel IP autoconfiguration (`ip=dhcp`) finish at once, which proves both
/// directions of virtio-net: the kernel prints `IP-Config: Got DHCP answer from ...`.
final class DHCPResponder {
    let process: HostCommand
    private let script: TemporaryFile

    init(in namespace: NetworkNamespace, interface: String, serverAddress: String = "10.0.2.2",
         clientAddress: String = "10.0.2.15", answer: Bool = true) throws {
        script = try TemporaryFile(contents: Self.source)
        process = try namespace.start([
            "python3", "-u", script.path, interface, serverAddress, clientAddress, answer ? "answer" : "listen",
        ])
        guard process.waitForOutput("listening on \(interface)", timeout: 20) else {
            let result = process.stop()
            throw TestSetupError("the DHCP responder did not start: \(result.standardError)\(result.standardOutput)")
        }
    }

    deinit { process.stop() }

    /// What it printed so far: one line per DHCP message seen or sent.
    var log: String { process.standardOutput }

    /// Stops it and returns everything it printed (standard output, then standard error).
    func stop() -> String {
        let result = process.stop()
        return result.standardOutput + result.standardError
    }

    static let source = #"""
        # vmm test DHCP responder (Tests/VMMIntegrationTests/DHCPResponder.swift).
        # Usage: python3 dhcp.py INTERFACE SERVER_IP CLIENT_IP answer|listen
        import socket, struct, sys

        iface, server_ip, client_ip = sys.argv[1], sys.argv[2], sys.argv[3]
        answer = sys.argv[4] == "answer"
        ETH_P_IP = 0x0800
        NAMES = {1: "DHCPDISCOVER", 2: "DHCPOFFER", 3: "DHCPREQUEST", 4: "DHCPDECLINE",
                 5: "DHCPACK", 6: "DHCPNAK", 7: "DHCPRELEASE", 8: "DHCPINFORM"}

        def say(text):
            print(text, flush=True)

        def mac_text(raw):
            return ":".join("%02x" % b for b in raw)

        def checksum(data):
            if len(data) % 2:
                data += b"\0"
            total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
            while total >> 16:
                total = (total & 0xFFFF) + (total >> 16)
            return ~total & 0xFFFF

        def options(payload):
            found, i = {}, 240
            while i < len(payload):
                code = payload[i]
                if code == 255:
                    break
                if code == 0:
                    i += 1
                    continue
                if i + 1 >= len(payload):
                    break
                length = payload[i + 1]
                found[code] = payload[i + 2:i + 2 + length]
                i += 2 + length
            return found

        def reply(sock, request, kind, mac):
            xid, flags = request[4:8], request[10:12]
            server = socket.inet_aton(server_ip)
            bootp = struct.pack("!BBBB", 2, 1, 6, 0) + xid + b"\0\0" + flags
            bootp += b"\0" * 4 + socket.inet_aton(client_ip) + server + b"\0" * 4
            bootp += mac + b"\0" * 10 + b"\0" * 64 + b"\0" * 128 + bytes([99, 130, 83, 99])
            bootp += bytes([53, 1, kind, 54, 4]) + server + bytes([51, 4]) + struct.pack("!I", 3600)
            bootp += bytes([1, 4, 255, 255, 255, 0, 3, 4]) + server + bytes([255])
            bootp += b"\0" * max(0, 300 - len(bootp))
            udp = struct.pack("!HHHH", 67, 68, 8 + len(bootp), 0) + bootp  # checksum 0: none (IPv4)
            header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, server, b"\xff" * 4)
            header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
            frame = b"\xff" * 6 + sock.getsockname()[4] + struct.pack("!H", ETH_P_IP) + header + udp
            sock.send(frame)
            say("sent %s %s to %s" % (NAMES[kind], client_ip, mac_text(mac)))

        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        sock.bind((iface, ETH_P_IP))
        say("listening on %s" % iface)
        while True:
            frame, address = sock.recvfrom(65535)
            if address[2] == socket.PACKET_OUTGOING or len(frame) < 14 + 20 + 8 + 240:
                continue
            ip = frame[14:]
            ihl = (ip[0] & 15) * 4
            if ip[9] != 17:
                continue
            udp = ip[ihl:]
            if struct.unpack("!HH", udp[:4]) != (68, 67):
                continue
            payload = udp[8:]
            if payload[0] != 1 or payload[236:240] != bytes([99, 130, 83, 99]):
                continue
            kind = options(payload).get(53, b"\0")[0]
            mac = payload[28:34]
            say("%s from %s (frame source %s)" % (NAMES.get(kind, "DHCP type %d" % kind), mac_text(mac),
                                                  mac_text(frame[6:12])))
            if answer and kind == 1:
                reply(sock, payload, 2, mac)
            elif answer and kind == 3:
                reply(sock, payload, 5, mac)
        """#
}
