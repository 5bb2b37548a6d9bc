import DeviceOptions
import Testing

@Suite struct BalloonOptionTests {
    @Test(arguments: [
        ("0", BalloonOption()),
        ("256M", BalloonOption(target: 256 << 20)),
        ("1G,deflate-on-oom=off", BalloonOption(target: 1 << 30, deflateOnOOM: false)),
        ("0,free-page-reporting=off,stats=0", BalloonOption(freePageReporting: false, statisticsInterval: 0)),
        ("4096,stats=30,deflate-on-oom=on", BalloonOption(target: 4096, statisticsInterval: 30)),
    ])
    func goodValuesParseAndPrintBack(text: String, expected: BalloonOption) throws {
        let parsed = try BalloonOption(parsing: text)
        #expect(parsed == expected)
        #expect(try BalloonOption(parsing: parsed.optionValue) == parsed, "\(parsed.optionValue)")
    }

    @Test(arguments: [
        ("", "is not a size"),
        ("lots", "is not a size"),
        ("-1M", "is not a size"),
        ("0,", "is not NAME=VALUE"),
        ("0,stats", "is not NAME=VALUE"),
        ("0,frob=1", "unknown setting 'frob=1'"),
        ("0,deflate-on-oom=yes", "unknown setting"),
        ("0,stats=-1", "stats=-1 is not a number of seconds"),
        ("0,stats=86401", "stats=86401"),
        ("0,stats=1,stats=2", "stats is given twice"),
    ])
    func badValuesSayWhatIsWrong(text: String, mentioning fragment: String) {
        #expect {
            try BalloonOption(parsing: text)
        } throws: { error in
            let message = (error as? DeviceOptionError)?.message ?? ""
            return message.hasPrefix("--balloon") && message.contains(fragment)
        }
    }

    @Test func theBalloonMustFitTheRAM() throws {
        try BalloonOption(target: 256 << 20).check(memorySize: 256 << 20)
        #expect(throws: DeviceOptionError.self) { try BalloonOption(target: (256 << 20) + 4096).check(memorySize: 256 << 20) }
        #expect(BalloonOption(target: 1536 << 20).optionValue == "1536M")
        #expect(BalloonOption(target: 12345).optionValue == "12345")
    }
}
