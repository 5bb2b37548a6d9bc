import Foundation
import Hummingbird
import VMMAPI

/// JSON responses in one encoding (sorted keys, so output is stable for tests and diffs).
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: encode(value)))
    }

    static func error(_ error: APIError) -> Response {
        let code = APIError.Code(rawValue: error.code) ?? .internalError
        return make(error, status: HTTPResponse.Status(code: code.httpStatus))
    }

    static func text(_ bytes: [UInt8], contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: .ok, headers: [.contentType: contentType], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// `value` as JSON and a newline.
    static func encode(_ value: some Encodable) -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data(#"{"error":{"code":"internal_error","message":"encoding failed"}}"#.utf8)
        return ByteBuffer(bytes: data + Data("\n".utf8))
    }

    /// `error` as a whole HTTP/1.1 response that closes the connection, for answers given
    /// below the HTTP codec (a request that timed out, a connection refused at the limit).
    static func closingHTTP1(_ error: APIError) -> ByteBuffer {
        let code = APIError.Code(rawValue: error.code)?.httpStatus ?? 500
        let body = encode(error)
        var response = ByteBuffer(string: "HTTP/1.1 \(code) \(HTTPResponse.Status(code: code).reasonPhrase)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.readableBytes)\r\nConnection: close\r\n\r\n")
        response.writeImmutableBuffer(body)
        return response
    }
}
