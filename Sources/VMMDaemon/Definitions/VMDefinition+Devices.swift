import DeviceOptions
import Glibc
import VMMAPI

/// Disks and NICs of a definition: the checks `vmm` itself would make, with the same
/// messages (naming the JSON field instead of the option), so a bad value fails at create.
extension VMDefinition {
    /// Throws a 400 for a value `vmm run --disk`/`--net` would refuse, a 422 for an image
    /// that is not an absolute path of a readable (and, unless read-only, writable) file or
    /// block device.
    func validateDevices() throws {
        do {
            try checkDeviceSyntax()
        } catch {
            throw APIError(code: .badRequest, message: error.message)
        }
        for (index, disk) in disks.enumerated() { try Self.validateImage(disk, field: "disks[\(index)].path") }
    }

    private func checkDeviceSyntax() throws(DeviceOptionError) {
        for (index, disk) in disks.enumerated() { try DiskOption.checkPath(disk.path, field: "disks[\(index)].path") }
        try DiskOption.checkUnique(try diskOptions(), field: "disks")
        let networks = try networkOptions()
        try NetworkOption.checkUnique(networks, field: "networks")
    }

    /// The disks as `--disk` options; throws for a rate limit vmm would refuse.
    func diskOptions() throws(DeviceOptionError) -> [DiskOption] {
        try disks.enumerated().map { (index, disk) throws(DeviceOptionError) in try disk.option(field: "disks[\(index)]") }
    }

    /// The NICs as `--net` options; throws for a tap name, MAC address or rate limit vmm
    /// would refuse.
    func networkOptions() throws(DeviceOptionError) -> [NetworkOption] {
        try networks.enumerated().map { (index, network) throws(DeviceOptionError) in
            let field = "networks[\(index)]"
            if let tap = network.tap { try NetworkOption.checkTapName(tap, field: "\(field).tap") }
            let mac = try network.mac.map { (mac) throws(DeviceOptionError) in
                try MACAddressSyntax.parse(mac, field: "\(field).mac")
            }
            return NetworkOption(
                tapName: network.tap, macAddress: mac,
                receiveLimit: try network.receiveLimit?.option(field: "\(field).receiveLimit") ?? RateLimitOption(),
                transmitLimit: try network.transmitLimit?.option(field: "\(field).transmitLimit") ?? RateLimitOption())
        }
    }

    /// This definition with every NIC's MAC address written out: lowercase, and generated
    /// where absent from the tap's name or, for a kernel-named tap, from `<vm>/net<index>`,
    /// so it is stable across runs, differs between VMs and shows in the API. The NICs must
    /// have passed `validateDevices()`.
    func withMACAddresses() throws -> VMDefinition {
        var result = self
        let options: [NetworkOption]
        do {
            options = try networkOptions()
        } catch {
            throw APIError(code: .badRequest, message: error.message)
        }
        for (index, option) in options.enumerated() {
            result.networks[index].mac = MACAddressSyntax.format(option.macAddress(fallbackSeed: "\(name)/net\(index)"))
        }
        return result
    }

    private static func validateImage(_ disk: VMDisk, field: String) throws {
        guard disk.path.hasPrefix("/") else {
            throw APIError(code: .invalidDefinition, message: "\(field) must be an absolute path, not \(disk.path)")
        }
        var info = stat()
        let type = stat(disk.path, &info) == 0 ? info.st_mode & S_IFMT : 0
        guard type == S_IFREG || type == S_IFBLK else {
            throw APIError(code: .invalidDefinition, message: "\(field) \(disk.path) is not a file or block device")
        }
        guard access(disk.path, disk.readOnly ? R_OK : R_OK | W_OK) == 0 else {
            let fix = disk.readOnly ? "" : " (or set readOnly if the guest need not write it)"
            throw APIError(
                code: .invalidDefinition,
                message: "\(field) \(disk.path) is not \(disk.readOnly ? "readable" : "readable and writable"): "
                    + "\(String(cString: strerror(errno)))\(fix)")
        }
    }
}
