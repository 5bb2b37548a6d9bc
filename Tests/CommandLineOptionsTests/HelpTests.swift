import CommandLineOptions
import Testing

@Suite struct HelpTests {
    typealias Example = ExampleCommand

    @Test(arguments: [["-h"], ["--help"], ["help"]])
    func rootHelpListsSubcommandsAndTheDefault(arguments: [String]) throws {
        #expect(try Example.help(arguments) == """
            OVERVIEW: Run things.

            Exit status: 0 on success.

            USAGE: tool <subcommand>

            OPTIONS:
              -h, --help              Show help information.

            SUBCOMMANDS:
              boot (default)          Boot a kernel.
              load                    Load a folder.

              See 'tool help <subcommand>' for detailed help.
            """)
    }

    @Test(arguments: [
        ["boot", "--help"], ["help", "boot"], ["--kernel", "k", "-h"], ["boot", "-vh"], ["boot", "--frob", "--help"],
    ])
    func subcommandHelpWinsOverEverythingElse(arguments: [String]) throws {
        #expect(try Example.help(arguments) == """
            OVERVIEW: Boot a kernel.

            Ctrl-A x quits.

            USAGE: tool boot [<options>] --kernel <kernel>

            OPTIONS:
              --kernel <kernel>       Kernel to boot.
              --cpus <cpus>           Number of vCPUs. (default: 1)
              --cmdline <cmdline>     Kernel command line.
              --initrd <initrd>       Initial ramdisk.
              --disk <path[,readonly]>
                                      Attach a disk; repeatable, in order.
              --no-pit                Leave out the PIT.
              -v, --verbose           Log more.
              -q, --quiet             Log less.
              -h, --help              Show help information.

            """)
    }

    @Test func helpAfterDoubleDashIsAnArgument() throws {
        #expect(try Example.parsed(["load", "--", "-h"]).argument(Example.directory) == "-h")
    }

    @Test func argumentsSectionAndUsage() throws {
        let text = try Example.help(["load", "-h"])
        #expect(text.contains("USAGE: tool load [<options>] <dir>\n\nARGUMENTS:\n  <dir>                   The folder.\n"))
    }

    /// As swift-argument-parser wraps: a line with more text after it stays below 80 columns.
    @Test func longTextsWrapAt80ColumnsInTheirColumn() {
        let option = OptionDefinition.option(
            "net", valueName: "tap", repeatable: true,
            help: "Attach a virtio-net NIC to a tap; repeatable. tap=NAME uses the tap NAME (created for this run "
                + "if it does not exist).")
        let command = CommandDefinition(
            name: "run", abstract: "Boot a kernel; the guest's serial console is on standard input and output.",
            options: [option])
        let lines = command.helpText(commandName: "vmm run").split(separator: "\n")
        #expect(lines.allSatisfy { $0.count < 80 })
        #expect(lines[0] == "OVERVIEW: Boot a kernel; the guest's serial console is on standard input and")
        #expect(lines[1] == "output.")
        #expect(lines.contains("  --net <tap>             Attach a virtio-net NIC to a tap; repeatable."))
        #expect(lines.contains("                          tap=NAME uses the tap NAME (created for this run if"))
        #expect(lines.contains("                          it does not exist)."))
    }

    @Test func manualPageHasEveryOptionEscaped() {
        let page = Example.root.manualPage()
        #expect(page.hasPrefix(".TH TOOL 1\n.SH NAME\ntool \\- Run things.\n.SH SYNOPSIS\n"))
        #expect(page.contains(".PP\ntool boot [<options>] \\-\\-kernel <kernel>\n"))
        #expect(page.contains(".SH \"TOOL BOOT\"\n.PP\nThe default: \\fBtool\\fR without a subcommand runs it.\n"))
        #expect(page.contains(".TP\n\\fB\\-\\-cpus <cpus>\\fR\nNumber of vCPUs. (default: 1)\n"))
        #expect(page.contains(".TP\n\\fI<dir>\\fR\nThe folder.\n"))
        #expect(page.contains(".TP\n\\fB\\-v, \\-\\-verbose\\fR\nLog more.\n"))
    }
}
