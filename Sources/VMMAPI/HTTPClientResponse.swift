import Foundation
import NIOHTTP1

extension HTTPClient {
    /// One complete HTTP response.
    public struct Response: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: [UInt8]

        public init(status: Int, headers: HTTPHeaders = [:], body: [UInt8] = []) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        /// Whether the status is 2xx.
        public var isSuccess: Bool { (200..<300).contains(status) }

        /// The body as UTF-8 text.
        public var text: String { String(decoding: body, as: UTF8.self) }

        /// The body decoded from JSON.
        public func decode<Value: Decodable>(_ type: Value.Type = Value.self) throws -> Value {
            do {
                return try JSONDecoder().decode(type, from: Data(body))
            } catch {
                throw HTTPClientError.malformedResponse("not a \(Value.self): \(error)")
            }
        }

        /// What a non-2xx response means: the ``APIError`` in its body, or the bare status
        /// when the body is not one.
        public var error: any Error {
            if let apiError = try? JSONDecoder().decode(APIError.self, from: Data(body)) {
                return apiError
            }
            return HTTPClientError.unexpectedStatus(status, body: text)
        }
    }
}
