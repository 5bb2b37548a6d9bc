/// Counts the servers that are up, so systemd hears READY=1 once all of them listen.
actor ServerReadiness {
    private var waiting: Int

    init(servers: Int) {
        waiting = servers
    }

    /// Records that one more server listens; true for the last one.
    func serverIsRunning() -> Bool {
        waiting -= 1
        return waiting == 0
    }
}
