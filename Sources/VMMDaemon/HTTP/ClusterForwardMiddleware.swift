import Foundation
import Hummingbird
import NIOHTTP1
import VMMAPI

/// In a cluster, a request about a VM another host has (`/v1/vms/NAME...`) is answered
/// by that host: sent there over the peers' mutual TLS as it came, its answer returned as
/// it is. While that host is not registered, `GET /v1/vms/NAME` answers etcd's view and
/// anything else is a 503 naming the host. A change made here is published to etcd
/// before it is answered (if etcd answers within 3 s).
struct ClusterForwardMiddleware: RouterMiddleware {
    typealias Context = DaemonRequestContext
    let manager: VMManager
    let maxBodySize: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let name = Self.vmName(request.uri.path) else { return try await next(request, context) }
        switch try await manager.locate(name) {
        case .here:
            let response = try await next(request, context)
            // What the request changed is in etcd before the answer (any host lists it),
            // unless etcd does not answer within 3 s.
            if request.method != .get { await manager.flushClusterWrites(within: 3) }
            return response
        case .away(let entry):
            guard request.method == .get, request.uri.path == "/v1/vms/\(name)" else {
                throw APIError(
                    code: .unavailable,
                    message: "VM \(name) is on host \(entry.host), which is not in the cluster now (down or partitioned)")
            }
            return JSONResponse.make(VMManager.remoteInfo(entry))
        case .peer(let address, let host):
            let body = try await request.bodyData(upTo: maxBodySize)
            let path = request.uri.path + (request.uri.query.map { "?\($0)" } ?? "")
            let answer = try await manager.forward(
                HTTPMethod(rawValue: request.method.rawValue), path, body: body.isEmpty ? nil : Array(body), to: address, host: host)
            var headers: HTTPFields = [:]
            if let type = answer.headers.first(name: "Content-Type") { headers[.contentType] = type }
            return Response(
                status: HTTPResponse.Status(code: answer.status), headers: headers,
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
        }
    }

    /// NAME of a path `/v1/vms/NAME` or `/v1/vms/NAME/...`.
    static func vmName(_ path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].isEmpty, parts[1] == "v1", parts[2] == "vms", !parts[3].isEmpty else { return nil }
        return String(parts[3])
    }
}
