import Testing

/// Every test that boots the minimal Linux, one boot at a time. A boot keeps a thread
/// waiting on the console for minutes; three suites booting at once on a 2-core host
/// starved the async daemon tests of Swift concurrency's two-thread pool (their time
/// limits ran out), and the boots themselves slowed to their timeouts.
@Suite(.serialized) enum LinuxBoots {}
