import CommandLineOptions
import Testing

@Suite struct ParsingTests {
    typealias Example = ExampleCommand

    @Test(arguments: [["--kernel", "k"], ["--kernel=k"], ["boot", "--kernel", "k"], ["boot", "--kernel=k"]])
    func optionValueInEitherFormAndDefaultSubcommand(arguments: [String]) throws {
        let parsed = try Example.parsed(arguments)
        #expect(parsed.commandName == "tool boot")
        #expect(parsed.value(Example.kernel) == "k")
    }

    @Test func defaultsWhenAbsent() throws {
        let parsed = try Example.parsed(["--kernel", "k"])
        #expect(try parsed.value(Example.cpus, as: Int.self) == 1)
        #expect(parsed.value(Example.commandLine) == "")
        #expect(parsed.value(Example.initrd) == nil)
        #expect(parsed.values(Example.disk) == [])
        #expect(!parsed.flag(Example.noPit) && !parsed.flag(Example.verbose))
    }

    @Test func repeatableOptionKeepsEveryValueInOrder() throws {
        let parsed = try Example.parsed(["--disk", "a", "--kernel", "k", "--disk=b,readonly", "--disk", "c"])
        #expect(parsed.values(Example.disk) == ["a", "b,readonly", "c"])
    }

    @Test func lastValueOfAnOptionGivenTwiceCounts() throws {
        #expect(try Example.parsed(["--kernel", "a", "--kernel", "b"]).value(Example.kernel) == "b")
    }

    @Test func valuesMayBeEmptyContainEqualsOrBeNegativeNumbers() throws {
        let parsed = try Example.parsed(["--kernel", "k", "--cmdline", "", "--initrd=a=b", "--cpus", "-1"])
        #expect(parsed.value(Example.commandLine) == "")
        #expect(parsed.value(Example.initrd) == "a=b")
        #expect(try parsed.value(Example.cpus, as: Int.self) == -1)
        #expect(try Example.parsed(["--kernel", "k", "--cmdline=-x"]).value(Example.commandLine) == "-x")
    }

    @Test func flagsLongShortAndGrouped() throws {
        let parsed = try Example.parsed(["--kernel", "k", "--no-pit", "-vq"])
        #expect(parsed.flag(Example.noPit) && parsed.flag(Example.verbose) && parsed.flag(Example.quiet))
        #expect(try Example.parsed(["--kernel", "k", "--verbose"]).flag(Example.verbose))
    }

    @Test func positionalArgumentAndDoubleDash() throws {
        #expect(try Example.parsed(["load", "d", "-v"]).argument(Example.directory) == "d")
        let dashed = try Example.parsed(["load", "--disk", "x", "--", "--odd-name"])
        #expect(dashed.argument(Example.directory) == "--odd-name")
        #expect(dashed.values(Example.disk) == ["x"])
    }

    @Test(arguments: [
        (["--kernel", "k", "--frobnicate"], "unknown option '--frobnicate' (see 'tool boot --help')"),
        (["--kernel", "k", "--cpu"], "unknown option '--cpu'; did you mean '--cpus'? (see 'tool boot --help')"),
        (["--kernel", "k", "--no-pti"], "unknown option '--no-pti'; did you mean '--no-pit'? (see 'tool boot --help')"),
        (["--kernel", "k", "-vx"], "unknown option '-x' (see 'tool boot --help')"),
        (["load", "d", "--kernel", "k"], "unknown option '--kernel' (see 'tool load --help')"),
        (["--kernel"], "missing value for '--kernel <kernel>' (see 'tool boot --help')"),
        (["--kernel", "k", "--cmdline", "-x"],
         "missing value for '--cmdline <cmdline>'; a value starting with '-' is written --cmdline=-x (see 'tool boot --help')"),
        (["--kernel", "k", "--no-pit=1"], "the option '--no-pit' takes no value, but '1' was given (see 'tool boot --help')"),
        (["--cpus", "2"], "missing expected argument '--kernel <kernel>' (see 'tool boot --help')"),
        ([], "missing expected argument '--kernel <kernel>' (see 'tool boot --help')"),
        (["--kernel", "k", "extra"], "unexpected argument 'extra' (see 'tool boot --help')"),
        (["load"], "missing expected argument '<dir>' (see 'tool load --help')"),
        (["load", "a", "b"], "unexpected argument 'b' (see 'tool load --help')"),
        (["help", "frob"], "unknown subcommand 'frob' (see 'tool --help')"),
    ])
    func usageErrorsNameTheArgumentAndPointToHelp(arguments: [String], message: String) {
        #expect(Example.usageError(arguments) == message)
    }

    @Test func valueThatIsNotOfTheOptionsType() throws {
        let parsed = try Example.parsed(["--kernel", "k", "--cpus", "many"])
        #expect(throws: UsageError("the value 'many' is invalid for '--cpus <cpus>'", commandName: "tool boot")) {
            try parsed.value(Example.cpus, as: Int.self)
        }
    }
}
