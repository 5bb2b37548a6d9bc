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

    /// A client behind by more than its socket holds when the VM ends (one that did not read
    /// for a few seconds here, a slow one on a busy host) still gets everything the guest
    /// printed if it reads within a moment: vmm waits for it before it exits.
    @Test func aClientBehindWhenTheVMEndsStillGetsTheLastOutput() throws {
        let vmm = try SupervisedVMM(kernel: "counter")
        let reader = try vmm.console()
        let behind = try vmm.console()
        // Steps of ~40 bytes: 20 of them are more than `behind`'s socket takes one byte at a time.
        try #require(CounterLog.waitForStep(reader, 20), "\(reader.text.suffix(300))")
        #expect(try vmm.control().request("stop")?["ok"] as? Bool == true)
        Thread.sleep(forTimeInterval: 0.3)  // without the wait vmm has ended by now
        behind.drain(quiet: 5, limit: 20)
        reader.drain(quiet: 5, limit: 20)
        #expect(vmm.process.finish(timeout: 10).status == 143)
        let last = CounterLog.lastStep(reader.text)
        let steps = CounterLog.steps(behind.text).map(\.step)
        #expect(last >= 20 && steps == Array(1...last), "the client that was behind got steps \(steps.first ?? 0)...\(steps.last ?? 0) of 1...\(last)")
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
