import Foundation
import Testing
import VMMAPI
@testable import vmctl

@Suite struct FormattingTests {
    private static let web = VMInfo(
        definition: VMDefinition(name: "web", cpus: 2, memory: 512 << 20, kernel: "/boot/vmlinuz", cmdline: "console=ttyS0"),
        state: .running, pid: 42, uptime: 3725)
    private static let db = VMInfo(
        definition: VMDefinition(name: "database-1", memory: 3 << 29, kernel: "/k", autostart: true), state: .stopped)

    @Test func listIsAnAlignedTable() {
        #expect(ListCommand.table([Self.db, Self.web]) == """
            NAME        STATE    CPUS  MEMORY  AUTOSTART
            database-1  stopped  1     1.5G    yes
            web         running  2     512M    no
            """)
        #expect(ListCommand.table([]) == "NAME  STATE  CPUS  MEMORY  AUTOSTART")
    }

    @Test func statsAreOneCounterPerLineSortedByName() {
        let statistics = VMStatistics(
            vm: ["remote_tlb_flush": 3, "pages_4k": 10],
            vcpus: [.init(id: 0, counters: ["exits": 7, "halt_exits": 2]), .init(id: 1, counters: ["exits": 5])])
        #expect(StatsCommand.lines(statistics) == """
            vm pages_4k 10
            vm remote_tlb_flush 3
            vcpu 0 exits 7
            vcpu 0 halt_exits 2
            vcpu 1 exits 5
            """)
    }

    @Test func infoIsKeyValueLines() {
        #expect(InfoCommand.fields(Self.web) == """
            name:      web
            state:     running
            cpus:      2
            memory:    512M
            kernel:    /boot/vmlinuz
            initrd:    -
            cmdline:   console=ttyS0
            autostart: no
            rng:       yes
            ha:        no
            pid:       42
            uptime:    1h 2m
            """)
    }

    @Test func infoListsDisksAndNICs() {
        let definition = VMDefinition(
            name: "db", kernel: "/k", cmdline: "quiet", disks: [VMDisk(path: "/srv/db.raw"), VMDisk(path: "/srv/base.raw", readOnly: true)],
            networks: [VMNetwork(tap: "vmtap0", mac: "02:00:00:00:00:01"), VMNetwork(mac: "02:00:00:00:00:02")], rng: false)
        #expect(InfoCommand.fields(VMInfo(definition: definition, state: .stopped)) == """
            name:      db
            state:     stopped
            cpus:      1
            memory:    256M
            kernel:    /k
            initrd:    -
            cmdline:   quiet
            autostart: no
            disk:      /srv/db.raw
            disk:      /srv/base.raw (read-only)
            net:       tap vmtap0, mac 02:00:00:00:00:01
            net:       tap (named by the kernel), mac 02:00:00:00:00:02
            rng:       no
            ha:        no
            """)
    }

    @Test func uptimeShowsTheTwoLargestUnits() {
        #expect(Uptime.format(0.4) == "0s")
        #expect(Uptime.format(59) == "59s")
        #expect(Uptime.format(312) == "5m 12s")
        #expect(Uptime.format(3 * 86400 + 4 * 3600 + 59) == "3d 4h")
    }

    @Test func eventsReadAsOneLineEach() throws {
        let event = VMEvent(time: 0, vm: "web", state: .crashed, previous: .running, reason: "vmm exited with status 4")
        let utc = try #require(TimeZone(identifier: "UTC"))
        #expect(EventsCommand.text(event, timeZone: utc) == "1970-01-01 00:00:00  web  running -> crashed (vmm exited with status 4)")
        #expect(EventsCommand.text(VMEvent(time: 60, vm: "a", state: .stopped), timeZone: utc) == "1970-01-01 00:01:00  a  stopped")
        #expect(EventsCommand.text(VMEvent(time: 60, vm: "a", state: .running, previous: .starting, host: "h2"), timeZone: utc)
            == "1970-01-01 00:01:00  a on h2  starting -> running")
    }

    @Test func jsonIsSortedAndStable() throws {
        let document = try JSONOutput.document(Self.web)
        #expect(document.contains("\"definition\" : {"))
        #expect(document.range(of: "\"definition\"")!.lowerBound < document.range(of: "\"state\"")!.lowerBound)
        #expect(try JSONOutput.line(VMEvent(time: 1, vm: "a", state: .running)) == #"{"state":"running","time":1,"vm":"a"}"#)
    }

    @Test func relativePathsBecomeAbsolute() {
        #expect(PathResolution.absolute("vmlinuz", from: "/home/me/guests") == "/home/me/guests/vmlinuz")
        #expect(PathResolution.absolute("../k/./bzImage", from: "/home/me/guests") == "/home/me/k/bzImage")
        #expect(PathResolution.absolute("/boot/vmlinuz", from: "/home/me") == "/boot/vmlinuz")
    }
}
