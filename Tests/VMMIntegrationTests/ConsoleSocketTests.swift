import Foundation
import Testing

/// `vmm run --console-socket`: output to every client with a backlog for late ones, input
/// from one writer at a time, and no client able to stall the guest.
@Suite(.enabled(if: TestEnvironment.kvmAvailable))
struct ConsoleSocketTests {
    @Test func everyClientSeesOutputAndLateOnesGetTheBacklog() throws {
        let vmm = try SupervisedVMM(kernel: "echo")
        let first = try vmm.console()
        #expect(first.waitFor("echo: ready"))
        let late = try vmm.console()
        #expect(late.waitFor("echo: ready", timeout: 10), "the backlog must reach a client that attaches late")

        late.send("hello\n")
        #expect(first.waitFor("echo: hello", timeout: 10))
        #expect(late.waitFor("echo: hello", timeout: 10))
        late.send("quit\n")
        #expect(vmm.process.finish(timeout: 30).status == 1)
        #expect(first.waitFor("echo: bye", timeout: 5))
    }

    @Test func oneWriterAtATimeAndTheNextOneTakesOverWhenItLeaves() throws {
        let vmm = try SupervisedVMM(kernel: "echo")
        var writer: UnixSocketConnection? = try vmm.console()
        let reader = try vmm.console()
        #expect(reader.waitFor("echo: ready"))
        writer?.send("first\n")
        #expect(reader.waitFor("echo: first", timeout: 10))

        reader.send("intruder\n")
        #expect(reader.waitFor("another client holds the console input", timeout: 10))
        writer?.send("second\n")
        #expect(reader.waitFor("echo: second", timeout: 10))
        #expect(!reader.text.contains("echo: intruder"))

        writer = nil  // disconnects: the reader may write now
        Thread.sleep(forTimeInterval: 0.2)
        reader.send("third\n")
        #expect(reader.waitFor("echo: third", timeout: 10))
        reader.send("quit\n")
        #expect(vmm.process.finish(timeout: 30).status == 1)
    }

    @Test func aClientThatNeverReadsDoesNotStallTheGuest() throws {
        let vmm = try SupervisedVMM(kernel: "echo")
        let reader = try vmm.console()
        #expect(reader.waitFor("echo: ready"))
        let stuck = try vmm.console()
        // About 150 KiB of output, well past what the stuck client's socket and vmm's queue
        // for it hold. Two lines at a time: the echo guest drops input beyond its 256-byte ring.
        let started = Date()
        let line = String(repeating: "x", count: 100)
        for batch in 0..<640 {
            reader.send("\(batch)-a-\(line)\n\(batch)-b-\(line)\n")
            try #require(reader.waitFor("echo: \(batch)-b-\(line)", timeout: 30), "the guest stalled in batch \(batch)")
        }
        #expect(Date().timeIntervalSince(started) < 60)
        reader.send("quit\n")
        #expect(vmm.process.finish(timeout: 30).status == 1)
        #expect(reader.waitFor("echo: bye", timeout: 5))
        _ = stuck
    }
}
