import ArgumentParser
import Foundation
import VMMAPI

/// `vmctl events`: follows state changes.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print VM state changes, snapshots, restores and clones as they happen, until interrupted.",
        discussion: "--json prints one VMEvent object a line (compact, sorted keys), as the API streams them.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print one JSON object a line.")
    var json = false

    func run() async throws {
        let decoder = JSONDecoder()
        for try await line in try global.client().stream(Routes.events) {
            let event: VMEvent
            do {
                event = try decoder.decode(VMEvent.self, from: Data(line.utf8))
            } catch {
                throw HTTPClientError.malformedResponse("not a VMEvent: \(line)")
            }
            // Unbuffered: each event must reach a pipe (`vmctl events | grep`) when it happens.
            FileHandle.standardOutput.write(Data(((json ? try JSONOutput.line(event) : Self.text(event)) + "\n").utf8))
        }
    }

    static func text(_ event: VMEvent, timeZone: TimeZone = .current) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        let time = formatter.string(from: Date(timeIntervalSince1970: event.time))
        let change = event.event?.rawValue
            ?? event.previous.map { "\($0.rawValue) -> \(event.state.rawValue)" } ?? event.state.rawValue
        let vm = event.host.map { "\(event.vm) on \($0)" } ?? event.vm
        return "\(time)  \(vm)  \(change)" + (event.reason.map { " (\($0))" } ?? "")
    }
}
