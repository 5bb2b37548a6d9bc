import Testing
@testable import VMMAPI

@Suite struct LineSplitterTests {
    @Test func linesSurviveAnyChunking() {
        var splitter = LineSplitter()
        #expect(splitter.append("{\"a\":1}\n{\"b\"".utf8) == ["{\"a\":1}"])
        #expect(splitter.append(":2}\r".utf8) == [])
        #expect(splitter.append("\n\n\nlast".utf8) == ["{\"b\":2}"])
        #expect(splitter.finish() == "last")
        #expect(splitter.finish() == nil)
    }
}
