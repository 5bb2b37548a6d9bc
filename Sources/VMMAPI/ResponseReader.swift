import NIOCore
import NIOHTTP1

/// Reads one HTTP response, part by part, from a connection's inbound stream.
struct ResponseReader {
    private var parts: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator

    init(_ inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>) {
        parts = inbound.makeAsyncIterator()
    }

    /// The status line and headers; must come first.
    mutating func head() async throws -> HTTPResponseHead {
        switch try await nextPart() {
        case .head(let head): return head
        case .body, .end: throw HTTPClientError.malformedResponse("body before the response head")
        }
    }

    /// The next piece of the body, or nil once the response has ended.
    mutating func nextBodyChunk() async throws -> ByteBuffer? {
        switch try await nextPart() {
        case .body(let chunk): return chunk
        case .end: return nil
        case .head: throw HTTPClientError.malformedResponse("a second response head")
        }
    }

    /// The largest body read whole: far above any answer of the API (a console log is at
    /// most 1 MiB), low enough that a remote peer cannot fill this process's memory.
    static let maximumBodySize = 64 << 20

    /// The rest of the body, up to the end of the response.
    mutating func remainingBody() async throws -> [UInt8] {
        var bytes: [UInt8] = []
        while let chunk = try await nextBodyChunk() {
            guard bytes.count + chunk.readableBytes <= Self.maximumBodySize else {
                throw HTTPClientError.malformedResponse("a body larger than \(Self.maximumBodySize >> 20) MiB")
            }
            bytes.append(contentsOf: chunk.readableBytesView)
        }
        return bytes
    }

    private mutating func nextPart() async throws -> HTTPClientResponsePart {
        guard let part = try await parts.next() else {
            try Task.checkCancellation()
            throw HTTPClientError.malformedResponse("the connection closed before the response ended")
        }
        return part
    }
}
