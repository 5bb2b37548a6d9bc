/// A part of the machine whose state a snapshot carries (the vCPUs, a device, the irqchip).
///
/// `saveState` runs while the vCPUs are paused and the device is quiesced; `restoreState`
/// runs on a freshly built machine before its vCPUs first run.
public protocol Snapshottable {
    func saveState(to encoder: inout StateEncoder) throws(VMMError)
    func restoreState(from decoder: inout StateDecoder) throws(VMMError)
}
