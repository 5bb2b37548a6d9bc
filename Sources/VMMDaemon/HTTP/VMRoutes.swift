import Foundation
import Hummingbird
import VMMAPI

/// The REST routes: each decodes its input strictly and calls one `VMManager` method.
struct VMRoutes {
    let manager: VMManager
    /// Cluster mode's membership, for `GET /v1/host`; nil on a single host.
    let cluster: ClusterMembership?
    let startedAt: ContinuousClock.Instant

    func register(on router: Router<DaemonRequestContext>) {
        router.get("/v1/vms") { _, _ in JSONResponse.make(await manager.list()) }
        router.post("/v1/vms") { request, context in
            let definition = try await Self.body(VMDefinition.self, request, context)
            return JSONResponse.make(try await manager.create(definition), status: .created)
        }
        router.get("/v1/vms/:name") { _, context in
            JSONResponse.make(try await manager.liveInfo(try Self.name(context)))
        }
        router.patch("/v1/vms/:name") { request, context in
            let name = try Self.name(context)
            let patch = try await Self.body(VMDefinitionPatch.self, request, context)
            return JSONResponse.make(try await manager.update(name, patch))
        }
        router.delete("/v1/vms/:name") { request, context in
            let force = request.uri.queryParameters.get("force") == "true"
            try await manager.delete(try Self.name(context), force: force)
            return Response(status: .noContent)
        }
        router.post("/v1/vms/:name/:action") { request, context in
            try await action(request, context)
        }
        router.get("/v1/vms/:name/console") { _, context in
            JSONResponse.text(try await manager.console(try Self.name(context)))
        }
        registerSnapshots(on: router)
        MigrationRoutes(manager: manager).register(on: router)
        router.get("/v1/events") { _, _ in events() }
        router.get("/v1/host") { _, _ in
            let counts = await manager.stateCounts()
            let drain = await manager.drain
            return JSONResponse.make(HostInfo(
                kvm: HostProbe.kvm(), cpus: HostProbe.cpus, memory: HostProbe.memory,
                vms: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }),
                version: DaemonVersion.current, availableMemory: HostProbe.availableMemory,
                mode: await manager.mode, drain: drain, cluster: await cluster?.info()))
        }
        router.get("/metrics") { _, _ in
            let renderer = MetricsRenderer(
                counts: await manager.stateCounts(), vms: await manager.snapshot(),
                uptime: (ContinuousClock.now - startedAt) / .seconds(1))
            return JSONResponse.text(Array(renderer.render().utf8), contentType: "text/plain; version=0.0.4")
        }
    }

    /// Snapshots, restore and clone (constant path components win over `:action`).
    private func registerSnapshots(on router: Router<DaemonRequestContext>) {
        router.get("/v1/vms/:name/snapshots") { _, context in
            JSONResponse.make(try await manager.snapshotList(try Self.name(context)))
        }
        router.post("/v1/vms/:name/snapshots") { request, context in
            let name = try Self.name(context)
            let body = try await Self.body(VMSnapshotRequest.self, request, context)
            return JSONResponse.make(try await manager.createSnapshot(name, body), status: .created)
        }
        router.get("/v1/vms/:name/snapshots/:snapshot") { _, context in
            JSONResponse.make(try await manager.snapshotInfo(try Self.name(context), context.parameters.get("snapshot") ?? ""))
        }
        router.delete("/v1/vms/:name/snapshots/:snapshot") { _, context in
            try await manager.deleteSnapshot(try Self.name(context), context.parameters.get("snapshot") ?? "")
            return Response(status: .noContent)
        }
        router.post("/v1/vms/:name/restore") { request, context in
            let name = try Self.name(context)
            let body = try await Self.body(VMRestoreRequest.self, request, context)
            return JSONResponse.make(try await manager.restore(name, body))
        }
        router.post("/v1/vms/:name/clone") { request, context in
            let name = try Self.name(context)
            let body = try await Self.body(VMCloneRequest.self, request, context)
            return JSONResponse.make(try await manager.clone(name, body), status: .created)
        }
    }

    private func action(_ request: Request, _ context: DaemonRequestContext) async throws -> Response {
        let name = try Self.name(context)
        let info: VMInfo
        switch context.parameters.get("action") {
        case "start": info = try await manager.start(name)
        case "stop":
            let data = try await Self.bodyData(request, context)
            let options = data.isEmpty ? VMStopRequest() : try StrictJSON.decode(VMStopRequest.self, from: data)
            info = try await manager.stop(name, options)
        case "pause": info = try await manager.pause(name)
        case "resume": info = try await manager.resume(name)
        case "reboot": info = try await manager.reboot(name)
        case "kill": info = try await manager.kill(name)
        default: throw HTTPError(.notFound)
        }
        return JSONResponse.make(info)
    }

    /// `/v1/events`: one JSON line per event, the connection kept open.
    private func events() -> Response {
        let lines = manager.subscribe().map { event in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return ByteBuffer(bytes: ((try? encoder.encode(event)) ?? Data()) + Data("\n".utf8))
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: ResponseBody(asyncSequence: lines))
    }

    private static func name(_ context: DaemonRequestContext) throws -> String {
        let name = context.parameters.get("name") ?? ""
        guard VMDefinition.isValidName(name) else { throw APIError.invalidName(name) }
        return name
    }

    private static func bodyData(_ request: Request, _ context: DaemonRequestContext) async throws -> Data {
        Data(try await request.body.collect(upTo: context.maxUploadSize).readableBytesView)
    }

    private static func body<T: StrictlyDecodable>(_ type: T.Type, _ request: Request, _ context: DaemonRequestContext) async throws -> T {
        try StrictJSON.decode(type, from: try await bodyData(request, context))
    }
}
