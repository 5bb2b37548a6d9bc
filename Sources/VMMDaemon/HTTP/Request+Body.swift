import Foundation
import Hummingbird
import NIOCore
import VMMAPI

extension Request {
    /// The whole body; past `limit` bytes a 413 that names the limit. What was read is
    /// dropped and the rest is read and discarded by the server, within the request's
    /// deadline (``APILimits/requestTimeout``).
    func bodyData(upTo limit: Int) async throws -> Data {
        do {
            return Data(try await body.collect(upTo: limit).readableBytesView)
        } catch is NIOTooManyBytesError {
            throw APIError(
                code: .payloadTooLarge,
                message: "the request body is over \(limit) bytes, the daemon's limit (vmmd --api-max-body)")
        }
    }
}
