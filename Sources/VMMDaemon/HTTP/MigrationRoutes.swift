import Foundation
import Hummingbird
import VMMAPI

/// The routes of migration and drain: a VM's `migrate`, the destination's
/// `/v1/migrations` (called by peers over mutual TLS), and the host's drain.
struct MigrationRoutes {
    let manager: VMManager
    let maxBodySize: Int

    func register(on router: Router<DaemonRequestContext>) {
        router.post("/v1/vms/:name/migrate") { request, context in
            let name = context.parameters.get("name") ?? ""
            let body = try await self.body(VMMigrateRequest.self, request)
            return JSONResponse.make(try await manager.migrate(name, body))
        }
        router.post("/v1/migrations") { request, context in
            let body = try await self.body(MigrationRequest.self, request)
            return JSONResponse.make(try await manager.acceptMigration(body), status: .created)
        }
        router.get("/v1/migrations/:id") { _, context in
            JSONResponse.make(try await manager.incomingMigration(context.parameters.get("id") ?? ""))
        }
        router.delete("/v1/migrations/:id") { _, context in
            try await manager.cancelIncoming(context.parameters.get("id") ?? "")
            return Response(status: .noContent)
        }
        router.post("/v1/host/drain") { request, context in
            let body = try await self.body(HostDrainRequest.self, request)
            return JSONResponse.make(try await manager.startDrain(body))
        }
        router.post("/v1/host/undrain") { _, _ in
            try await manager.undrain()
            return Response(status: .noContent)
        }
    }

    private func body<T: StrictlyDecodable>(_ type: T.Type, _ request: Request) async throws -> T {
        try StrictJSON.decode(type, from: try await request.bodyData(upTo: maxBodySize))
    }
}
