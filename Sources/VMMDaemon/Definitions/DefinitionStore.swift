import Foundation
import VMMAPI

/// The VM definitions on disk: one JSON file per VM, each replaced atomically.
struct DefinitionStore: Sendable {
    let directory: String

    init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Every readable definition; a file that is not one is reported and skipped so one bad
    /// file cannot keep the daemon from starting.
    func loadAll(skipping report: (String, Error) -> Void) -> [VMDefinition] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted().compactMap { file in
            do {
                let definition = try JSONDecoder().decode(VMDefinition.self, from: Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(file)")))
                guard VMDefinition.isValidName(definition.name), "\(definition.name).json" == file else {
                    throw FileError("it names VM \"\(definition.name)\"")
                }
                return definition
            } catch {
                report(file, error)
                return nil
            }
        }
    }

    /// Writes a definition; its name must already be valid.
    func save(_ definition: VMDefinition) throws {
        precondition(VMDefinition.isValidName(definition.name))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(definition), to: path(definition.name))
    }

    /// Removes a definition; its name must already be valid.
    func remove(_ name: String) throws {
        precondition(VMDefinition.isValidName(name))
        guard unlink(path(name)) == 0 || errno == ENOENT else {
            throw FileError("cannot remove \(path(name)): \(Linux.errorMessage)")
        }
        try AtomicFile.syncFolder(directory)
    }

    private func path(_ name: String) -> String { "\(directory)/\(name).json" }
}
