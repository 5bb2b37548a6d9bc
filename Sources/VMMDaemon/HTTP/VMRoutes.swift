import Foundation
import Hummingbird
import VMMAPI

/// The REST routes: each decodes its input strictly and calls one `VMManager` method.
struct VMRoutes {
    let manager: VMManager
    /// Cluster mode's membership, for `GET /v1/host`; nil on a single host.
    let cluster: ClusterMembership?
    let startedAt: ContinuousClock.Instant
    /// Bodies past this are refused with 413 (``APILimits/maxBodySize``).
    let maxBodySize: Int

    func register(on router: Router<DaemonRequestContext>) {
        router.get("/v1/vms") { _, _ in JSONResponse.make(await manager.listing()) }
        router.post("/v1/vms") { request, context in
            let creation = try await body(VMCreateRequest.self, request)
            return JSONResponse.make(try await manager.create(creation), status: .created)
        }
        router.get("/v1/vms/:name") { _, context in
            JSONResponse.make(try await manager.liveInfo(try Self.name(context)))
        }
        router.patch("/v1/vms/:name") { request, context in
            let name = try Self.name(context)
            let patch = try await body(VMDefinitionPatch.self, request)
            return JSONResponse.make(try await manager.update(name, patch))
        }
        router.delete("/v1/vms/:name") { request, context in
            let force = request.uri.queryParameters.get("force") == "true"
            try await manager.delete(try Self.name(context), force: force)
            return Response(status: .noContent)
        }
        registerActions(on: router)
        router.get("/v1/vms/:name/stats") { _, context in
            JSONResponse.make(try await manager.statistics(try Self.name(context)))
        }
        router.get("/v1/vms/:name/console") { _, context in
            JSONResponse.text(try await manager.console(try Self.name(context)))
        }
        router.get("/v1/vms/:name/console/attach") { request, context in
            try await consoleAttachRefused(request, context)
        }
        registerSnapshots(on: router)
        MigrationRoutes(manager: manager, maxBodySize: maxBodySize).register(on: router)
        router.get("/v1/events") { _, _ in events() }
        router.get("/v1/host") { _, _ in
            let counts = await manager.stateCounts()
            let drain = await manager.drain
            return JSONResponse.make(HostInfo(
                kvm: HostProbe.kvm(), cpus: HostProbe.cpus, memory: HostProbe.memory,
                vms: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }),
                version: DaemonVersion.current, availableMemory: HostProbe.availableMemory,
                mode: await manager.mode, drain: drain, cluster: await cluster?.info(), committed: await manager.commitment(),
                ksm: HostProbe.pageMerging()))
        }
        router.get("/metrics") { _, _ in
            var renderer = MetricsRenderer(
                counts: await manager.stateCounts(), vms: await manager.snapshot(),
                uptime: (ContinuousClock.now - startedAt) / .seconds(1))
            let resources = try? manager.cgroups.resources.get()
            renderer.cpuThrottled = { resources?.throttledSeconds(vm: $0) }
            return JSONResponse.text(Array(renderer.render().utf8), contentType: "text/plain; version=0.0.4")
        }
    }

    /// Snapshots, restore and clone.
    private func registerSnapshots(on router: Router<DaemonRequestContext>) {
        router.get("/v1/vms/:name/snapshots") { _, context in
            JSONResponse.make(try await manager.snapshotList(try Self.name(context)))
        }
        router.post("/v1/vms/:name/snapshots") { request, context in
            let name = try Self.name(context)
            let body = try await self.body(VMSnapshotRequest.self, request)
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
            let body = try await self.body(VMRestoreRequest.self, request)
            return JSONResponse.make(try await manager.restore(name, body))
        }
        router.post("/v1/vms/:name/clone") { request, context in
            let name = try Self.name(context)
            let body = try await self.body(VMCloneRequest.self, request)
            return JSONResponse.make(try await manager.clone(name, body), status: .created)
        }
    }

    /// One route for each action, so that an unknown action is an unknown path (404) and
    /// another method on a known one a 405.
    private func registerActions(on router: Router<DaemonRequestContext>) {
        router.post("/v1/vms/:name/start") { _, context in JSONResponse.make(try await manager.start(try Self.name(context))) }
        router.post("/v1/vms/:name/stop") { request, context in
            let name = try Self.name(context)
            let data = try await bodyData(request)
            let options = data.isEmpty ? VMStopRequest() : try StrictJSON.decode(VMStopRequest.self, from: data)
            if let timeout = options.timeout, !(timeout <= VMStopRequest.maximumTimeout) {
                throw APIError(
                    code: .badRequest,
                    message: "timeout must be at most \(Int(VMStopRequest.maximumTimeout)) seconds (a day), not \(timeout)")
            }
            return JSONResponse.make(try await manager.stop(name, options))
        }
        router.post("/v1/vms/:name/pause") { _, context in JSONResponse.make(try await manager.pause(try Self.name(context))) }
        router.post("/v1/vms/:name/resume") { _, context in JSONResponse.make(try await manager.resume(try Self.name(context))) }
        router.post("/v1/vms/:name/reboot") { _, context in JSONResponse.make(try await manager.reboot(try Self.name(context))) }
        router.post("/v1/vms/:name/kill") { _, context in JSONResponse.make(try await manager.kill(try Self.name(context))) }
    }

    /// A console attachment that reached the router was not switched by `ConsoleUpgrader`:
    /// the answer says why (the VM's state, else the request or the console socket).
    private func consoleAttachRefused(_ request: Request, _ context: DaemonRequestContext) async throws -> Response {
        let name = try Self.name(context)
        _ = try await manager.consoleSocket(name)
        let upgrade = request.headers[.upgrade]?.lowercased() ?? ""
        guard upgrade.contains(ConsoleUpgrader.protocolName) else {
            throw APIError(code: .badRequest, message: "\(request.uri.path) switches the connection to the console:"
                + " send Connection: Upgrade and Upgrade: \(ConsoleUpgrader.protocolName) (vmctl console \(name) does)")
        }
        throw APIError(code: .unavailable, message: "VM \(name)'s console socket does not answer (is its vmm stopping? vmctl info \(name))")
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

    private func bodyData(_ request: Request) async throws -> Data {
        try await request.bodyData(upTo: maxBodySize)
    }

    private func body<T: StrictlyDecodable>(_ type: T.Type, _ request: Request) async throws -> T {
        try StrictJSON.decode(type, from: try await bodyData(request))
    }
}
