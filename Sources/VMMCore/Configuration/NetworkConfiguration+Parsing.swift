import DeviceOptions

extension NetworkConfiguration {
    /// Parses one `--net tap[=NAME][,mac=MAC]` value; `macAddress` stays nil unless given.
    public init(parsing text: String) throws(VMMError) {
        do {
            let option = try NetworkOption(parsing: text)
            self.init(tapName: option.tapName, macAddress: option.macAddress.map(MACAddress.init(bytes:)))
        } catch {
            throw .invalidConfiguration(error.message)
        }
    }

    /// Parses every `--net` value, in order, and gives each NIC without `mac=` its
    /// generated address (`generatedMACAddress(index:)`). The same tap or MAC address
    /// twice is an error.
    public static func parsing(_ texts: [String]) throws(VMMError) -> [NetworkConfiguration] {
        var networks = try texts.map { (text) throws(VMMError) in try NetworkConfiguration(parsing: text) }
        do {
            try NetworkOption.checkUnique(networks.map { NetworkOption(tapName: $0.tapName, macAddress: $0.macAddress?.array) })
        } catch {
            throw .invalidConfiguration(error.message)
        }
        for index in networks.indices where networks[index].macAddress == nil {
            networks[index].macAddress = networks[index].generatedMACAddress(index: index)
        }
        return networks
    }

    /// The address of this NIC, the `index`th, when none is given: generated from the tap
    /// name, or from `net<index>` for a tap the kernel names (two such VMs on one bridge
    /// need `mac=`).
    public func generatedMACAddress(index: Int) -> MACAddress {
        MACAddress(bytes: NetworkOption(tapName: tapName).macAddress(fallbackSeed: "net\(index)"))
    }
}
