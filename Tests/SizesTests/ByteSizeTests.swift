import Testing
import Sizes

@Suite struct ByteSizeTests {
    @Test func parsesSuffixesAndPlainBytes() {
        #expect(ByteSize.parse("256M") == 256 << 20)
        #expect(ByteSize.parse("1G") == 1 << 30)
        #expect(ByteSize.parse("2g") == 2 << 30)
        #expect(ByteSize.parse("512K") == 512 << 10)
        #expect(ByteSize.parse("1T") == 1 << 40)
        #expect(ByteSize.parse("4096") == 4096)
    }

    @Test(arguments: ["", "M", "0", "0M", "-1M", "1.5G", "1Gi", "1MB", " 1M", "99999999999T"])
    func rejectsWhatIsNotASize(text: String) {
        #expect(ByteSize.parse(text) == nil)
    }

    @Test func formatsInTheLargestFittingUnit() {
        #expect(ByteSize.format(256 << 20) == "256M")
        #expect(ByteSize.format(1 << 30) == "1G")
        #expect(ByteSize.format(3 << 29) == "1.5G")
        #expect(ByteSize.format(1536) == "1.5K")
        #expect(ByteSize.format(1000) == "1000")
        #expect(ByteSize.format(0) == "0")
    }
}
