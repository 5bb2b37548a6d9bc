/// The `fence` control request: when vmm must stop its VM on its own unless told again
/// (docs/cluster.md section 4). Deadlines are on CLOCK_BOOTTIME, which every process of
/// the host shares and which counts through a suspend.
public enum FenceRequest: Equatable, Sendable {
    /// `fence MS`: MS milliseconds from when vmm reads the request.
    case after(milliseconds: UInt64)
    /// `fence until=NS`: at NS nanoseconds of CLOCK_BOOTTIME (what a supervisor sends, so
    /// the time the request spends on its way cannot move the deadline later).
    case until(bootNanoseconds: UInt64)
    /// `fence off`: no deadline.
    case off

    /// Longest relative deadline: a fence is seconds, a day is surely a typo.
    public static let maximumMilliseconds: UInt64 = 86_400_000

    static let usage = "usage: fence MS | fence until=NS | fence off (MS milliseconds from now, 1 to "
        + "\(maximumMilliseconds); NS a CLOCK_BOOTTIME time in nanoseconds)"

    static func parse(_ arguments: [String]) -> Result<FenceRequest, ControlError> {
        guard arguments.count == 1 else { return .failure(ControlError(.badRequest, usage)) }
        let argument = arguments[0]
        if argument == "off" { return .success(.off) }
        if argument.hasPrefix("until=") {
            guard let nanoseconds = UInt64(argument.dropFirst("until=".count)), nanoseconds <= UInt64(Int64.max) else {
                return .failure(ControlError(.badRequest, "'\(argument.prefix(40))' is not a time; \(usage)"))
            }
            return .success(.until(bootNanoseconds: nanoseconds))
        }
        guard let milliseconds = UInt64(argument), (1...maximumMilliseconds).contains(milliseconds) else {
            return .failure(ControlError(.badRequest, "'\(argument.prefix(40))' is not a fence time; \(usage)"))
        }
        return .success(.after(milliseconds: milliseconds))
    }
}
