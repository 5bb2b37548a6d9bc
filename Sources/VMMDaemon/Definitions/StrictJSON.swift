import Foundation
import VMMAPI

/// A request body type whose JSON object may hold only these keys: a misspelt field is an
/// error, not silently ignored.
protocol StrictlyDecodable: Decodable {
    static var fieldNames: Set<String> { get }
}

extension VMDefinition: StrictlyDecodable {
    static let fieldNames: Set<String> = ["name", "cpus", "memory", "kernel", "initrd", "cmdline", "autostart"]
}

extension VMDefinitionPatch: StrictlyDecodable {
    static let fieldNames: Set<String> = ["cpus", "memory", "kernel", "initrd", "cmdline", "autostart"]
}

extension VMStopRequest: StrictlyDecodable {
    static let fieldNames: Set<String> = ["force", "timeout"]
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
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw APIError(code: .badRequest, message: "invalid JSON body: \(describe(error))")
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
