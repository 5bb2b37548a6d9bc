VMMCommand.main(Array(CommandLine.arguments.dropFirst()))
