import Testing
import Sizes

@Suite struct ByteSizeParsingTests {
    @Test(arguments: [
        ("256M", UInt64(256 << 20)),
        ("1G", 1 << 30),
        ("512K", 512 << 10),
        ("2T", 2 << 40),
        ("4096", 4096),
        ("1g", 1 << 30),
        ("64m", 64 << 20),
        ("16383P", nil),
        ("0", nil),
        ("0M", nil),
        ("12Q", nil),
        ("", nil),
        ("M", nil),
        ("1GiB", nil),
        ("1Gi", nil),
        ("-1", nil),
        ("1.5G", nil),
        (" 1G", nil),
        ("1 G", nil),
        ("١٢M", nil),  // Arabic-Indic digits
        ("18446744073709551615", UInt64.max),
        ("18446744073709551616", nil),
        ("16777216T", nil),  // 2^24 TiB = 2^64 bytes
        ("17179869184G", nil),  // 2^34 GiB = 2^64 bytes
        ("16777215T", 16_777_215 << 40),
    ] as [(String, UInt64?)])
    func parses(text: String, expected: UInt64?) {
        #expect(ByteSize.parse(text) == expected)
    }
}
