import Foundation
import VMMAPI

/// A request body type whose JSON object may hold only these keys: a misspelt field is an
/// error, not silently ignored.
protocol StrictlyDecodable: Decodable {
    static var fieldNames: Set<String> { get }
    /// The fields that hold arrays of objects, with the keys those objects may hold (a
    /// misspelt `readOnly` must not leave a disk writable).
    static var objectArrayFieldNames: [String: Set<String>] { get }
    /// The fields that hold one object, with the keys it may hold.
    static var objectFieldNames: [String: Set<String>] { get }
}

extension StrictlyDecodable {
    static var objectArrayFieldNames: [String: Set<String>] { [:] }
    static var objectFieldNames: [String: Set<String>] { [:] }
}

extension VMDefinition: StrictlyDecodable {
    static let fieldNames: Set<String> = [
        "name", "cpus", "memory", "kernel", "initrd", "cmdline", "autostart", "disks", "networks", "rng", "balloon", "ha",
        "haPriority", "mergePages", "limits",
    ]
    static let objectArrayFieldNames: [String: Set<String>] = [
        "disks": ["path", "readOnly", "rateLimit"], "networks": ["tap", "mac", "receiveLimit", "transmitLimit"],
    ]
    static let objectFieldNames: [String: Set<String>] = [
        "balloon": ["target", "deflateOnOOM", "freePageReporting"], "limits": ["cpus", "cpuWeight", "memoryLimit"],
    ]
}

extension VMCreateRequest: StrictlyDecodable {
    static let fieldNames = VMDefinition.fieldNames.union(["host"])
    static let objectArrayFieldNames = VMDefinition.objectArrayFieldNames
    static let objectFieldNames = VMDefinition.objectFieldNames
}

extension VMDefinitionPatch: StrictlyDecodable {
    static let fieldNames: Set<String> = [
        "cpus", "memory", "kernel", "initrd", "cmdline", "autostart", "disks", "networks", "rng", "balloon", "ha", "haPriority",
        "mergePages", "limits",
    ]
    static let objectArrayFieldNames = VMDefinition.objectArrayFieldNames
    static let objectFieldNames = VMDefinition.objectFieldNames
}

extension VMStopRequest: StrictlyDecodable {
    static let fieldNames: Set<String> = ["force", "timeout"]
}

extension VMSnapshotRequest: StrictlyDecodable {
    static let fieldNames: Set<String> = ["name", "memoryOnly"]
}

extension VMRestoreRequest: StrictlyDecodable {
    static let fieldNames: Set<String> = ["snapshot"]
}

extension VMCloneRequest: StrictlyDecodable {
    static let fieldNames: Set<String> = ["name", "snapshot", "start"]
}

extension VMMigrateRequest: StrictlyDecodable {
    static let fieldNames: Set<String> = ["to", "maxDowntimeMs", "bandwidthMbps", "copyStorage"]
}

extension MigrationRequest: StrictlyDecodable {
    static let fieldNames: Set<String> = ["definition", "copyStorage", "diskSizes"]
}

extension HostDrainRequest: StrictlyDecodable {
    static let fieldNames: Set<String> = ["to", "parallel"]
}

/// Decodes request bodies, turning every failure into a 400 that says what is wrong.
enum StrictJSON {
    static func decode<T: StrictlyDecodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            let keys = try JSONDecoder().decode(ObjectKeys.self, from: data).names
            let unknown = keys.subtracting(T.fieldNames)
            guard unknown.isEmpty else {
                throw APIError(code: .badRequest, message: "unknown field(s): \(unknown.sorted().joined(separator: ", "))")
            }
            let value = try JSONDecoder().decode(T.self, from: data)
            try checkObjectArrays(T.objectArrayFieldNames, in: data)
            try checkObjects(T.objectFieldNames, in: data)
            return value
        } catch let error as DecodingError {
            throw APIError(code: .badRequest, message: "invalid JSON body: \(describe(error))")
        }
    }

    /// Throws a 400 naming the first unknown key in an object of one of `fields`' arrays;
    /// runs after decoding succeeded, so the shapes are right.
    private static func checkObjectArrays(_ fields: [String: Set<String>], in data: Data) throws {
        guard !fields.isEmpty, let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return }
        for (field, names) in fields.sorted(by: { $0.key < $1.key }) {
            for (index, element) in ((object[field] as? [Any]) ?? []).enumerated() {
                let unknown = ((element as? [String: Any]).map { Set($0.keys) } ?? []).subtracting(names)
                guard unknown.isEmpty else {
                    throw APIError(
                        code: .badRequest,
                        message: "unknown field(s) in \(field)[\(index)]: \(unknown.sorted().joined(separator: ", ")); "
                            + "known: \(names.sorted().joined(separator: ", "))")
                }
            }
        }
    }

    /// Throws a 400 naming the first unknown key in one of `fields`' objects.
    private static func checkObjects(_ fields: [String: Set<String>], in data: Data) throws {
        guard !fields.isEmpty, let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return }
        for (field, names) in fields.sorted(by: { $0.key < $1.key }) {
            let unknown = ((object[field] as? [String: Any]).map { Set($0.keys) } ?? []).subtracting(names)
            guard unknown.isEmpty else {
                throw APIError(
                    code: .badRequest,
                    message: "unknown field(s) in \(field): \(unknown.sorted().joined(separator: ", ")); "
                        + "known: \(names.sorted().joined(separator: ", "))")
            }
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let names = context.codingPath.map(\.stringValue).joined(separator: ".")
            return names.isEmpty ? "" : " at \(names)"
        }
        switch error {
        case .typeMismatch(let type, let context): return "expected \(type)\(path(context))"
        case .valueNotFound(let type, let context): return "expected \(type)\(path(context)), found null"
        case .keyNotFound(let key, _): return "missing field \(key.stringValue)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "invalid value\(path(context))"
        @unknown default: return "\(error)"
        }
    }

    /// The keys of a JSON object (and a type mismatch if the body is not an object).
    private struct ObjectKeys: Decodable {
        struct Key: CodingKey {
            let stringValue: String
            init(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }

        let names: Set<String>

        init(from decoder: any Decoder) throws {
            names = Set(try decoder.container(keyedBy: Key.self).allKeys.map(\.stringValue))
        }
    }
}
