/// Where the guest's serial output goes: standard output or the console socket's clients.
protocol ConsoleSink: Sendable {
    /// Takes one byte the guest sent. Called on vCPU threads, so it must never block.
    func write(_ byte: UInt8)
}
