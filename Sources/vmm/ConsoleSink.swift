/// Where the guest's serial output goes: standard output or the console socket's clients.
protocol ConsoleSink: Sendable {
    /// Takes one byte the guest sent. Called on vCPU threads, so it must never block.
    func write(_ byte: UInt8)

    /// Waits at most `seconds` for output taken but not passed on yet to go out (vmm's end
    /// would lose it). Called once the guest can write no more.
    func flush(within seconds: Double)
}
