/// One request inside a transaction.
public enum EtcdOperation: Sendable {
    /// Reads the key, or every key starting with it when `prefix`.
    case get(String, prefix: Bool = false)
    /// Writes the key, bound to `lease` unless it is 0.
    case put(String, value: [UInt8], lease: Int64 = 0)
    /// Deletes the key, or every key starting with it when `prefix`.
    case delete(String, prefix: Bool = false)

    var wire: EtcdWire.RequestOp {
        switch self {
        case .get(let key, let prefix):
            return EtcdWire.RequestOp(request_range: EtcdClient.rangeRequest(key, prefix: prefix, revision: nil))
        case .put(let key, let value, let lease):
            return EtcdWire.RequestOp(request_put: EtcdWire.PutRequest(
                key: EtcdWire.base64(key), value: EtcdWire.base64(value), lease: lease == 0 ? nil : .init(lease)))
        case .delete(let key, let prefix):
            return EtcdWire.RequestOp(request_delete_range: EtcdWire.DeleteRangeRequest(
                key: EtcdWire.base64(key), range_end: prefix ? EtcdWire.base64(EtcdClient.rangeEnd(ofPrefix: key)) : nil))
        }
    }
}
