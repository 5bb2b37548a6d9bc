import Testing

/// Suites whose tests keep a thread blocked for a long time (booting the minimal Linux,
/// migrating guests between two vmm processes), one test at a time. Swift Testing runs
/// synchronous tests on Swift concurrency's pool, which has two threads on a 2-core host:
/// two such tests at once starved the async daemon tests (their time limits ran out) and
/// slowed the boots to their timeouts.
@Suite(.serialized) enum LongGuestRuns {}
