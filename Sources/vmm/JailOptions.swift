#if canImport(Glibc)
import Glibc
#endif
import CommandLineOptions

/// `--jail DIR --uid UID --gid GID [--jail-bind HOST=INSIDE]...`, shared by `vmm run` and
/// `vmm restore`: the options that make a `Jail`.
struct JailOptions {
    /// The options' declarations.
    enum Option {
        static let jail = OptionDefinition.option(
            "jail", valueName: "dir",
            help: "Run the VM jailed (root only; docs/jail.md): in new mount, PID, IPC and UTS namespaces with DIR as "
                + "its root, as --uid/--gid with no capabilities. DIR must be writable by that user (or, not sticky, group) and hold "
                + "the pid file, exit file and sockets; control requests name paths inside the jail.")
        static let uid = OptionDefinition.option("uid", valueName: "uid", help: "The user a jailed VM runs as (not 0).")
        static let gid = OptionDefinition.option("gid", valueName: "gid", help: "The group a jailed VM runs as (not 0).")
        static let bind = OptionDefinition.option(
            "jail-bind", valueName: "host=inside", repeatable: true,
            help: "Mount the host folder HOST read-write at INSIDE in the jail (e.g. where snapshots go); repeatable.")

        static let all = [jail, uid, gid, bind]
    }

    let jail: Jail?

    init(_ parsed: ParsedArguments) throws(UsageError) {
        let fail = { (message: String) in UsageError(message, commandName: parsed.commandName) }
        guard let directory = parsed.value(Option.jail) else {
            for option in [Option.uid, Option.gid] where parsed.value(option) != nil {
                throw fail("--\(option.name) needs --jail DIR")
            }
            if !parsed.values(Option.bind).isEmpty { throw fail("--jail-bind needs --jail DIR") }
            jail = nil
            return
        }
        guard geteuid() == 0 else {
            throw fail("--jail needs root (vmm creates namespaces and changes its user): run it as root, or without --jail")
        }
        let root = Self.normalized(directory)
        guard root.hasPrefix("/"), root != "/", Self.isDirectory(root) else {
            throw fail("--jail '\(directory)' must be an existing folder given by its absolute path, not /")
        }
        let user = try Self.identifier(parsed, Option.uid)
        let group = try Self.identifier(parsed, Option.gid)
        guard Self.isWritable(root, user: user, group: group) else {
            throw fail("--jail '\(directory)' must be writable by uid \(user), or by gid \(group) and not sticky (vmm writes its pid "
                + "and exit files there and removes its sockets, which stay root's): chown \(user):\(group) \(directory)")
        }
        let jail = Jail(root: root, user: user, group: group, binds: try parsed.values(Option.bind).map { value throws(UsageError) in
            try Self.bind(value, fail: fail)
        })
        let supervised = SupervisorOptions.Option.self
        for option in [supervised.pidFile, supervised.exitFile, supervised.controlSocket, supervised.consoleSocket] {
            if let path = parsed.value(option), jail.insidePath(Self.normalized(path)) == nil {
                throw fail("--\(option.name) '\(path)' must be inside --jail '\(directory)': the jailed vmm reaches nothing else")
            }
        }
        self.jail = jail
    }

    private static func identifier(_ parsed: ParsedArguments, _ option: OptionDefinition) throws(UsageError) -> UInt32 {
        guard let text = parsed.value(option) else {
            throw UsageError("--jail needs --\(option.name)", commandName: parsed.commandName)
        }
        guard let value = UInt32(text), value != 0, value != UInt32.max else {
            throw UsageError("--\(option.name) '\(text)' must be a number from 1 to 4294967294", commandName: parsed.commandName)
        }
        return value
    }

    private static func bind(_ value: String, fail: (String) -> UsageError) throws(UsageError) -> Jail.Bind {
        let parts = value.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0].hasPrefix("/"), parts[1].hasPrefix("/"), isDirectory(parts[0]),
              !parts[1].split(separator: "/").contains(where: { $0 == ".." || $0 == "." }), normalized(parts[1]) != "/"
        else {
            throw fail("--jail-bind '\(value)' must be HOST=INSIDE: an existing host folder and a path in the jail, both absolute")
        }
        return Jail.Bind(source: parts[0], target: normalized(parts[1]))
    }

    private static func normalized(_ path: String) -> String {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    private static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
    }

    /// Whether the jailed vmm can create files in `path` and remove its sockets there, which
    /// root created and owns (a sticky folder lets only its owner remove others' files).
    private static func isWritable(_ path: String, user: uid_t, group: gid_t) -> Bool {
        var status = stat()
        guard stat(path, &status) == 0 else { return false }
        return (status.st_uid == user && status.st_mode & 0o300 == 0o300)
            || (status.st_gid == group && status.st_mode & 0o030 == 0o030 && status.st_mode & 0o1000 == 0)  // not sticky
    }
}
