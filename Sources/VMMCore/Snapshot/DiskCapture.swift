#if canImport(Glibc)
import Glibc
#endif

/// One writable disk captured into a snapshot at the instant its memory is: by a reflink
/// taken in the pause where the filesystem can, otherwise by a sparse copy made while the
/// guest runs plus, in the pause, the chunks the guest wrote meanwhile.
final class DiskCapture {
    let index: Int
    let method: DiskCopy.Method
    let output: OutputFile
    private let source: SourceFile
    private let writeLog: BlockWriteLog?
    private(set) var bytesCopied: UInt64 = 0

    /// `writeLog` is the disk's log while the guest runs; nil when it is paused throughout.
    /// `opened` is the device's own descriptor of the image, read through a duplicate (a
    /// jailed vmm cannot open the path).
    init(index: Int, source path: String, opened: Int32?, destination: String, writeLog: BlockWriteLog?) throws(VMMError) {
        self.index = index
        source = try SourceFile(path, opened: opened)
        output = try OutputFile(creating: destination, mode: source.mode)
        method = DiskCopy.reflink(output, from: source.fd) ? .reflink : .sparseCopy
        self.writeLog = method == .sparseCopy ? writeLog : nil
        writeLog?.start()
    }

    deinit { writeLog?.stop() }

    /// The bulk of a sparse copy, while the guest may write on.
    func copyWhileRunning() throws(VMMError) {
        guard method == .sparseCopy else { return }
        try output.setLength(source.size)
        bytesCopied += try DiskCopy.copy(try source.dataExtents(), from: source.fd, source: source.path, to: output)
    }

    /// The last pass, with the guest paused and the disk quiesced.
    func finish() throws(VMMError) {
        switch method {
        case .reflink:
            guard DiskCopy.reflink(output, from: source.fd) else {
                throw .system("reflink \(source.path) into the snapshot", EIO)
            }
        case .sparseCopy:
            guard let writeLog else { return }
            bytesCopied += try DiskCopy.copy(writeLog.take(size: source.size), from: source.fd, source: source.path, to: output)
        }
    }
}
