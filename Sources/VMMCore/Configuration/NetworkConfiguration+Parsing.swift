import DeviceOptions

extension NetworkConfiguration {
    /// Parses one `--net tap[=NAME][,mac=MAC]` value; `macAddress` stays nil unless given.
    public init(parsing text: String) throws(VMMError) {
        do {
            let option = try NetworkOption(parsing: text)
            self.init(
                tapName: option.tapName, macAddress: option.macAddress.map(MACAddress.init(bytes:)),
                receiveLimit: option.receiveLimit, transmitLimit: option.transmitLimit)
        } catch {
            throw .invalidConfiguration(error.message)
        }
    }

    /// Parses every `--net` value, in order; the same tap or MAC address twice is an
    /// error. A NIC without `mac=` keeps a nil `macAddress`: the device derives one from
    /// the tap's name once the tap exists, which for `tap` alone only the kernel knows.
    public static func parsing(_ texts: [String]) throws(VMMError) -> [NetworkConfiguration] {
        let networks = try texts.map { (text) throws(VMMError) in try NetworkConfiguration(parsing: text) }
        do {
            try NetworkOption.checkUnique(networks.map { NetworkOption(tapName: $0.tapName, macAddress: $0.macAddress?.array) })
        } catch {
            throw .invalidConfiguration(error.message)
        }
        return networks
    }
}
