import Foundation
import Testing

extension LongGuestRuns {
    /// The minimal Linux guest with virtio over PCI: a disk (`--disk`, a whole-disk ext4 image
    /// made on the host) as its root, a NIC (`--net`) on a tap in a network namespace of the
    /// test's own, and the entropy device.
    ///
    /// On a PVM host guest kernel code is emulated (minutes per boot) and guest user space
    /// cannot make system calls, so `kernelUsesDiskNetworkAndEntropyDevices` checks what the
    /// kernel itself proves, in one boot; `userSpaceWritesTheDiskPingsTheHostAndReadsEntropy`
    /// goes on through guest user space on hosts with VT-x/AMD-V.
    ///
    /// Network safety: the VM and everything that talks to it run inside the namespace; no
    /// frame leaves it, and the namespace is deleted when the test ends, also on failure.
    @Suite(.serialized, .enabled(if: TestEnvironment.kvmAvailable))
    struct LinuxVirtioTests {
        static let tapName = "vmtap0"
        static let guestMAC = "52:54:00:12:34:56"
        static let hostAddress = "10.0.2.2"
        static let guestAddress = "10.0.2.15"
        static let bootTimeout: TimeInterval = 600

        /// virtio 1.x PCI device ids (0x1040 + device type); the transitional ids QEMU uses
        /// are accepted too.
        static let pciDeviceIDs: [(name: String, ids: [String])] = [
            ("network", ["1af4:1041", "1af4:1000"]), ("block", ["1af4:1042", "1af4:1001"]), ("entropy", ["1af4:1044", "1af4:1005"]),
        ]

        private func guestFile(_ name: String) throws -> String {
            let path = "\(TestEnvironment.linuxGuestDirectory)/\(name)"
            guard FileManager.default.fileExists(atPath: path) else {
                throw TestSetupError("\(path) is missing: run scripts/build-linux-guest.sh")
            }
            return path
        }

        /// The namespace with its tap (10.0.2.2/24 on the host end) and a DHCP responder on it.
        private func makeNetwork() throws -> (NetworkNamespace, DHCPResponder) {
            guard NetworkNamespace.available else {
                throw TestSetupError("network namespaces need root and iproute2 (scripts/install-dependencies.sh)")
            }
            let namespace = try NetworkNamespace()
            try namespace.addTap(Self.tapName, address: "\(Self.hostAddress)/24")
            let responder = try DHCPResponder(
                in: namespace, interface: Self.tapName, serverAddress: Self.hostAddress, clientAddress: Self.guestAddress)
            return (namespace, responder)
        }

        private func vmmArguments(image: Ext4Image, commandLine: String) throws -> [String] {
            [
                TestEnvironment.vmmBinary, "run", "--kernel", try guestFile("bzImage"), "--memory", "256M",
                "--cmdline", commandLine, "--disk", image.path,
                "--net", "tap=\(Self.tapName),mac=\(Self.guestMAC)", "--no-reboot", "--verbose",
            ]
        }

        /// Waits until the console shows `text`, the kernel panics, vmm ends or time runs out.
        private func waitForConsole(_ vmm: HostCommand, _ text: String, timeout: TimeInterval) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                let output = vmm.standardOutput
                if output.contains(text) { return true }
                if output.contains("Kernel panic") || !vmm.process.isRunning { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            // The panic or the end may have come right after the text.
            Thread.sleep(forTimeInterval: 0.2)
            return vmm.standardOutput.contains(text)
        }

        /// `pci 0000:00:03.0: [1af4:1042] type 00 class 0x018000`: the devices the PCI scan found.
        private func pciDevices(_ log: String) -> [String] {
            log.split(whereSeparator: \.isNewline).compactMap { line in
                guard let range = line.range(of: #"pci [0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]: \[[0-9a-f]{4}:[0-9a-f]{4}\]"#,
                                             options: .regularExpression)
                else { return nil }
                return String(line[range])
            }
        }

        private func expectVirtioDevicesOnPCI(_ log: String) {
            let found = pciDevices(log)
            for device in Self.pciDeviceIDs {
                #expect(found.contains { line in device.ids.contains { line.contains("[\($0)]") } },
                        "the PCI scan did not list the virtio \(device.name) device (\(device.ids[0])); it found: \(found)")
            }
        }

        /// The kernel alone, in one boot: finds the three virtio devices on PCI, reads the disk's
        /// capacity and partition table, mounts the ext4 image as its root read-write (writing
        /// its superblock, which the host reads back), and configures eth0 by DHCP through the
        /// tap (the responder sees DISCOVER and REQUEST from the configured MAC and its answers
        /// reach the guest).
        @Test func kernelUsesDiskNetworkAndEntropyDevices() throws {
            let image = try Ext4Image(sizeMiB: 32)
            let (namespace, responder) = try makeNetwork()
            defer { namespace.delete() }
            let commandLine = LinuxGuestTests.commandLine + " root=/dev/vda rw rootfstype=ext4 ip=dhcp"
            let started = Date()
            let vmm = try namespace.start(try vmmArguments(image: image, commandLine: commandLine))
            let mounted = waitForConsole(vmm, "VFS: Mounted root (ext4 filesystem)", timeout: Self.bootTimeout)
            let bootSeconds = Date().timeIntervalSince(started)
            // Without an init on the image the kernel would panic next; nothing more to see.
            if vmm.process.isRunning { kill(vmm.process.processIdentifier, SIGKILL) }
            let result = vmm.finish(timeout: 10)
            let dhcpLog = responder.stop()
            let log = result.standardOutput
            print("LinuxVirtioTests: root mounted after \(Int(bootSeconds)) s (from vmm start)")
            let context = "console:\n\(log.suffix(4000))\nvmm stderr:\n\(result.standardError.suffix(3000))\nDHCP responder:\n\(dhcpLog)"
            #expect(mounted, "the kernel did not mount its root from /dev/vda; \(context)")

            // PCI: every virtio device is on bus 0.
            expectVirtioDevicesOnPCI(log)

            // virtio-blk: capacity from the device's configuration, partition table from sector 0.
            #expect(log.range(of: #"virtio_blk virtio[0-9]+: \[vda\] \#(image.sectors) 512-byte logical blocks"#,
                              options: .regularExpression) != nil, "no virtio_blk capacity line for vda; \(context)")
            #expect(log.contains(" vda: vda1"), "no partition scan line for vda; \(context)")

            // ext4 root, mounted read-write: the kernel wrote its superblock (mount count,
            // mount time) through the device.
            #expect(log.contains("EXT4-fs (vda): mounted filesystem"), "\(context)")
            #expect(log.contains("VFS: Mounted root (ext4 filesystem)"), "\(context)")
            let superblock = try HostCommand.check(["dumpe2fs", "-h", image.path]).standardOutput
            #expect(superblock.range(of: #"Mount count:\s+1\n"#, options: .regularExpression) != nil,
                    "the guest's mount did not reach the image's superblock:\n\(superblock)")
            #expect(try image.read(Ext4Image.markerPath).contains(Ext4Image.markerContents))

            // virtio-net: the kernel's DHCP client went out through the tap from the configured
            // MAC, and the responder's answers came back in.
            #expect(dhcpLog.contains("DHCPDISCOVER from \(Self.guestMAC) (frame source \(Self.guestMAC))"), "\(context)")
            #expect(dhcpLog.contains("DHCPREQUEST from \(Self.guestMAC)"), "\(context)")
            #expect(log.contains("IP-Config: Got DHCP answer from \(Self.hostAddress), my address is \(Self.guestAddress)"), "\(context)")
            #expect(log.contains("device=eth0, hwaddr=\(Self.guestMAC), ipaddr=\(Self.guestAddress), mask=255.255.255.0, gw=\(Self.hostAddress)"),
                    "\(context)")

            // virtio-rng: the kernel prints nothing when virtio_rng binds; vmm logs the device
            // being driven (see expectEntropyDeviceUsed).
            expectEntropyDeviceUsed(vmmLog: result.standardError, context: context)
        }

        /// The entropy device took requests from the guest: the kernel's hw_random core reads
        /// from a newly registered device at once (add_early_randomness), so a working
        /// virtio_rng driver means a served request, which vmm logs; the kernel itself prints
        /// nothing when virtio_rng binds.
        private func expectEntropyDeviceUsed(vmmLog: String, context: String) {
            #expect(vmmLog.contains("virtio entropy: driver ready"), "\(context)")
            #expect(vmmLog.contains("virtio-rng: first request served"), "\(context)")
        }

        static let userSpaceInit = #"""
            #!/bin/sh
            # /init on the ext4 root of LinuxVirtioTests (busybox).
            export PATH=/bin:/sbin:/usr/bin:/usr/sbin
            mount -t proc proc /proc
            mount -t sysfs sysfs /sys
            mount -t devtmpfs devtmpfs /dev 2>/dev/null
            echo "VMM-VIRTIO-GUEST: init started"
            echo "VMM-VIRTIO-GUEST: marker $(cat /vmm-marker)"
            echo "VMM-VIRTIO-GUEST: rng_available $(cat /sys/class/misc/hw_random/rng_available)"
            echo "VMM-VIRTIO-GUEST: rng_current $(cat /sys/class/misc/hw_random/rng_current)"
            echo "VMM-VIRTIO-GUEST: hwrng bytes $(head -c 64 /dev/hwrng | wc -c)"
            # busybox ping times out with alarm(), which this kernel lacks (no POSIX timers):
            # one echo request in the background, given 10 seconds.
            ping -c 1 10.0.2.2 > /tmp/ping.log 2>&1 &
            pid=$!
            i=0
            while [ $i -lt 20 ] && kill -0 $pid 2>/dev/null; do sleep 0.5; i=$((i + 1)); done
            kill $pid 2>/dev/null
            if grep -q "bytes from 10.0.2.2" /tmp/ping.log; then
                echo "VMM-VIRTIO-GUEST: ping ok"
            else
                echo "VMM-VIRTIO-GUEST: ping failed"
                cat /tmp/ping.log
            fi
            echo "written by the guest" > /guest-wrote-this
            sync
            mount -o remount,ro /
            echo "VMM-VIRTIO-GUEST: powering off"
            poweroff -f
            echo "VMM-VIRTIO-GUEST: poweroff failed"
            while :; do sleep 1000; done
            """#

        /// Guest user space on the same devices: the entropy device is the kernel's hwrng and
        /// gives bytes, the guest pings the tap's host end, writes a file on its root and powers
        /// off; the host reads the file from the image afterwards.
        @Test(.enabled(if: !TestEnvironment.isPVMHost,
                       "PVM host: guest user space cannot make system calls; runs on VT-x/AMD-V hosts"))
        func userSpaceWritesTheDiskPingsTheHostAndReadsEntropy() throws {
            let image = try Ext4Image(sizeMiB: 32, files: ["/init": (Self.userSpaceInit, true)], withBusybox: true)
            let (namespace, responder) = try makeNetwork()
            defer { namespace.delete() }
            let vmm = try namespace.start(try vmmArguments(
                image: image, commandLine: "console=ttyS0 panic=-1 root=/dev/vda rw rootfstype=ext4 ip=dhcp init=/init"))
            let result = vmm.finish(timeout: Self.bootTimeout)
            let dhcpLog = responder.stop()
            let log = result.standardOutput
            let context = "console:\n\(log.suffix(4000))\nvmm stderr:\n\(result.standardError.suffix(3000))\nDHCP responder:\n\(dhcpLog)"
            #expect(result.status == 0, "vmm ended with \(result.status); \(context)")
            expectVirtioDevicesOnPCI(log)
            #expect(log.contains("VMM-VIRTIO-GUEST: init started"), "\(context)")
            #expect(log.contains("VMM-VIRTIO-GUEST: marker \(Ext4Image.markerContents)"), "\(context)")
            #expect(log.range(of: #"VMM-VIRTIO-GUEST: rng_available .*virtio_rng"#, options: .regularExpression) != nil, "\(context)")
            #expect(log.range(of: #"VMM-VIRTIO-GUEST: rng_current virtio_rng"#, options: .regularExpression) != nil, "\(context)")
            #expect(log.contains("VMM-VIRTIO-GUEST: hwrng bytes 64"), "\(context)")
            #expect(log.contains("VMM-VIRTIO-GUEST: ping ok"), "\(context)")
            #expect(log.contains("VMM-VIRTIO-GUEST: powering off"), "\(context)")
            #expect(dhcpLog.contains("DHCPDISCOVER from \(Self.guestMAC)"), "\(context)")
            #expect(try image.read("/guest-wrote-this") == "written by the guest\n")
            let fsck = try image.check()
            #expect(fsck.succeeded, "e2fsck after the guest's clean shutdown: \(fsck.standardOutput)\(fsck.standardError)")
        }
    }
}
