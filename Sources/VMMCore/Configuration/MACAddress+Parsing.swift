import DeviceOptions

extension MACAddress {
    /// Parses `aa:bb:cc:dd:ee:ff`, refusing multicast and all-zero addresses.
    public init(parsing text: String, option: String = "--net mac") throws(VMMError) {
        do {
            self.init(bytes: try MACAddressSyntax.parse(text, field: option))
        } catch {
            throw .invalidConfiguration(error.message)
        }
    }

    /// The address vmm gives a NIC that has none: locally administered, unicast, the same
    /// for the same seed on every run (`MACAddressSyntax.generated(seed:)`).
    public static func generated(seed: String) -> MACAddress {
        MACAddress(bytes: MACAddressSyntax.generated(seed: seed))
    }

    /// `bytes` must hold six bytes.
    init(bytes: [UInt8]) {
        precondition(bytes.count == 6)
        self.init(bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5])
    }
}
