import Foundation
import Hummingbird
import VMMAPI

/// JSON responses in one encoding (sorted keys, so output is stable for tests and diffs).
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data(#"{"error":{"code":"internal_error","message":"encoding failed"}}"#.utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data + Data("\n".utf8))))
    }

    static func error(_ error: APIError) -> Response {
        let code = APIError.Code(rawValue: error.code) ?? .internalError
        return make(error, status: HTTPResponse.Status(code: code.httpStatus))
    }

    static func text(_ bytes: [UInt8], contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: .ok, headers: [.contentType: contentType], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
