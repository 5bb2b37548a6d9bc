import Hummingbird
import Synchronization

/// The methods each served path takes, read from the router once every route is
/// registered, so that a request whose path is served but not with its method (any
/// method, also one the daemon has never heard of) gets 405 and an `Allow` header naming
/// those it takes (RFC 9110 §15.5.6), and only an unknown path gets 404.
final class MethodTable: Sendable {
    private struct Route {
        /// Matched as the router matches them (`~=`: a capture matches any segment).
        let components: [RouterPath.Element]
        let methods: Set<String>
    }

    private let routes = Mutex<[Route]>([])

    func load(_ descriptions: [Router<DaemonRequestContext>.RouteDescription]) {
        let grouped = Dictionary(grouping: descriptions, by: { $0.path.description })
        routes.withLock {
            $0 = grouped.map { path, routes in
                Route(components: routes[0].path.components, methods: Set(routes.map(\.method.rawValue)))
            }
        }
    }

    /// The `Allow` value for `path` (its methods, sorted); nil when no route serves it.
    func allowed(for path: String) -> String? {
        let segments = path.split(separator: "/")
        let methods = routes.withLock { routes in
            routes.filter { route in
                route.components.count == segments.count && zip(route.components, segments).allSatisfy { $0 ~= $1 }
            }.reduce(into: Set<String>()) { $0.formUnion($1.methods) }
        }
        return methods.isEmpty ? nil : methods.sorted().joined(separator: ", ")
    }
}
