import Testing
@testable import VMMCore

@Suite struct CPUFeatureSelectionTests {
    @Test func parsesHiddenAndShownFeatures() throws {
        let selection = try CPUFeatureSelection(parsing: "-popcnt,+pcid")
        #expect(selection.hidden == ["popcnt"])
        #expect(selection.shown == ["pcid"])
    }

    @Test func toleratesSpacesAndEmptyItems() throws {
        let selection = try CPUFeatureSelection(parsing: " -popcnt , ,+tsc-deadline,")
        #expect(selection.hidden == ["popcnt"])
        #expect(selection.shown == ["tsc-deadline"])
        #expect(try CPUFeatureSelection(parsing: "") == CPUFeatureSelection())
    }

    @Test func laterMentionWins() throws {
        let selection = try CPUFeatureSelection(parsing: "+avx,-avx,-la57,+la57")
        #expect(selection.hidden == ["avx"])
        #expect(selection.shown == ["la57"])
    }

    @Test(arguments: ["popcnt", "-popcnt,pcid", "*avx"])
    func missingSignIsAnError(text: String) {
        let error = #expect(throws: VMMError.self) { try CPUFeatureSelection(parsing: text) }
        guard case .invalidConfiguration(let message) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(message.contains("must start with + (show) or - (hide)"))
    }

    @Test(arguments: ["+sse9", "-POPCNT", "+", "-popcnt,+bogus"])
    func unknownFeatureIsAnErrorListingTheKnownOnes(text: String) {
        let error = #expect(throws: VMMError.self) { try CPUFeatureSelection(parsing: text) }
        guard case .invalidConfiguration(let message) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(message.contains("unknown feature"))
        #expect(message.contains("popcnt, "))
    }

    @Test func everyUnsupportedOnPVMFeatureIsNameable() {
        for name in CPUFeature.unsupportedOnPVM + CPUFeature.slowOnPVM { #expect(CPUFeature.named(name) != nil, "\(name)") }
        #expect(Set(CPUFeature.known.map(\.name)).count == CPUFeature.known.count, "names are unique")
    }
}
