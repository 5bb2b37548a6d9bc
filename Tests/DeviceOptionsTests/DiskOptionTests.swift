import DeviceOptions
import Testing

@Suite struct DiskOptionTests {
    @Test(arguments: [
        ("/img/a.raw", DiskOption(path: "/img/a.raw")),
        ("a.raw,readonly", DiskOption(path: "a.raw", readOnly: true)),
        ("a.raw,readonly=on", DiskOption(path: "a.raw", readOnly: true)),
        ("a.raw,readonly=off", DiskOption(path: "a.raw", readOnly: false)),
        ("/dev/vdb", DiskOption(path: "/dev/vdb")),
    ])
    func goodValuesParse(text: String, expected: DiskOption) throws {
        #expect(try DiskOption(parsing: text) == expected)
    }

    @Test(arguments: [
        ("", "no image path"),
        (",readonly", "no image path"),
        ("a.raw,", "unknown setting ''"),
        ("a.raw,ro", "unknown setting 'ro'"),
        ("/a,b/c.raw", "a path containing ',' cannot be given"),
        ("a.raw,readonly=yes", "unknown setting 'readonly=yes'"),
        ("a.raw,readonly,readonly", "readonly is given twice"),
    ])
    func badValuesSayWhatIsWrong(text: String, mentioning fragment: String) {
        #expect {
            try DiskOption(parsing: text)
        } throws: { error in
            let message = (error as? DeviceOptionError)?.message ?? ""
            return message.hasPrefix("--disk") && message.contains(fragment)
        }
    }

    @Test func theOptionValueParsesBackToTheSameDisk() throws {
        for disk in [DiskOption(path: "/a.raw"), DiskOption(path: "/b.raw", readOnly: true)] {
            #expect(try DiskOption(parsing: disk.optionValue) == disk)
        }
    }

    @Test func pathsTheOptionCannotCarryAreRefused() {
        #expect(throws: DeviceOptionError.self) { try DiskOption.checkPath("/a,b", field: "disks[0].path") }
        #expect(throws: DeviceOptionError.self) { try DiskOption.checkPath("/a\u{0}b", field: "disks[0].path") }
        #expect(throws: DeviceOptionError.self) { try DiskOption.checkPath("", field: "disks[0].path") }
        #expect(throws: Never.self) { try DiskOption.checkPath("/a b/c.raw", field: "disks[0].path") }
    }

    @Test func theSameImageTwiceIsRefused() {
        #expect(throws: DeviceOptionError("--disk /a.raw is given twice; a VM can attach an image only once")) {
            try DiskOption.checkUnique([DiskOption(path: "/a.raw"), DiskOption(path: "/b.raw"), DiskOption(path: "/a.raw", readOnly: true)])
        }
        #expect(throws: Never.self) { try DiskOption.checkUnique([DiskOption(path: "/a.raw"), DiskOption(path: "/b.raw")]) }
    }
}
