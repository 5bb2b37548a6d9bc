import DeviceOptions
import Testing

@Suite struct NetworkOptionTests {
    @Test(arguments: [
        ("tap", NetworkOption(tapName: nil)),
        ("tap=vmtap0", NetworkOption(tapName: "vmtap0")),
        ("tap=vmtap0,mac=02:00:00:00:00:01", NetworkOption(tapName: "vmtap0", macAddress: [2, 0, 0, 0, 0, 1])),
        ("mac=52:54:00:AB:cd:EF,tap=t", NetworkOption(tapName: "t", macAddress: [0x52, 0x54, 0, 0xab, 0xcd, 0xef])),
        ("tap,mac=02:00:00:00:00:02", NetworkOption(tapName: nil, macAddress: [2, 0, 0, 0, 0, 2])),
        ("tap=a=b", NetworkOption(tapName: "a=b")),
        ("tap=fifteen-bytes-x", NetworkOption(tapName: "fifteen-bytes-x")),
    ])
    func goodValuesParse(text: String, expected: NetworkOption) throws {
        #expect(try NetworkOption(parsing: text) == expected)
    }

    @Test(arguments: [
        ("", "unknown setting ''"),
        ("user", "unknown setting 'user'"),
        ("mac=02:00:00:00:00:01", "no backend"),
        ("tap=", "the tap name is empty"),
        ("tap=sixteen-bytes-xx", "at most 15 bytes"),
        ("tap=a/b", "cannot contain '/'"),
        ("tap=a:b", "cannot contain ':'"),
        ("tap=a b", "cannot contain U+20"),
        ("tap=tap%d", "cannot contain '%'"),
        ("tap=..", "not a valid interface name"),
        ("tap=a,tap=b", "tap is given twice"),
        ("tap,mac", "mac needs an address"),
        ("tap,mac=02:00:00:00:00:01,mac=02:00:00:00:00:02", "mac is given twice"),
        ("tap,mac=01:00:5e:00:00:01", "multicast"),
        ("tap,mac=ff:ff:ff:ff:ff:ff", "multicast"),
        ("tap,mac=00:00:00:00:00:00", "all-zero"),
        ("tap,mac=02:00:00:00:00", "not a MAC address"),
        ("tap,mac=02-00-00-00-00-01", "not a MAC address"),
        ("tap,mac=2:0:0:0:0:1", "not a MAC address"),
        ("tap,mac=02:00:00:00:00:0g", "not a MAC address"),
        ("tap,mac=02:00:00:00:00:01:02", "not a MAC address"),
    ])
    func badValuesSayWhatIsWrong(text: String, mentioning fragment: String) {
        #expect {
            try NetworkOption(parsing: text)
        } throws: { error in
            let message = (error as? DeviceOptionError)?.message ?? ""
            return message.hasPrefix("--net") && message.contains(fragment)
        }
    }

    @Test func theOptionValueParsesBackToTheSameNIC() throws {
        for network in [
            NetworkOption(tapName: nil), NetworkOption(tapName: "t0"),
            NetworkOption(tapName: "t1", macAddress: [2, 0xaa, 0, 0, 0, 0x0f]),
        ] {
            #expect(try NetworkOption(parsing: network.optionValue) == network)
        }
        #expect(NetworkOption(tapName: "t1", macAddress: [2, 0xaa, 0, 0, 0, 0x0f]).optionValue == "tap=t1,mac=02:aa:00:00:00:0f")
    }

    @Test func generatedAddressesAreStableLocalUnicastAndDiffer() {
        let first = MACAddressSyntax.generated(seed: "vmtap0")
        #expect(first == MACAddressSyntax.generated(seed: "vmtap0"))
        #expect(first.count == 6 && first[0] == 0x02)
        #expect(first != MACAddressSyntax.generated(seed: "vmtap1"))
        // Pinned: the address must not change between releases, or guests see a new NIC.
        #expect(MACAddressSyntax.format(first) == "02:e3:a6:1a:95:7e")
        #expect(NetworkOption(tapName: "vmtap0").macAddress(fallbackSeed: "net0") == first)
        #expect(NetworkOption(tapName: nil).macAddress(fallbackSeed: "web/net0") == MACAddressSyntax.generated(seed: "web/net0"))
        #expect(NetworkOption(tapName: "x", macAddress: [2, 0, 0, 0, 0, 9]).macAddress(fallbackSeed: "net0") == [2, 0, 0, 0, 0, 9])
    }

    @Test func theSameTapOrAddressTwiceIsRefused() {
        #expect(throws: DeviceOptionError.self) {
            try NetworkOption.checkUnique([NetworkOption(tapName: "a"), NetworkOption(tapName: "a")])
        }
        #expect(throws: DeviceOptionError.self) {
            try NetworkOption.checkUnique([
                NetworkOption(tapName: "a", macAddress: [2, 0, 0, 0, 0, 1]), NetworkOption(tapName: nil, macAddress: [2, 0, 0, 0, 0, 1]),
            ])
        }
        #expect(throws: Never.self) {
            try NetworkOption.checkUnique([NetworkOption(tapName: nil), NetworkOption(tapName: nil), NetworkOption(tapName: "a")])
        }
    }
}
