extension VirtioBlockRequest {
    /// Carries out a checked request on `storage`; returns how many data bytes it put into
    /// guest buffers. Blocks for as long as the storage does.
    func execute(on storage: any BlockStorage, serial: [UInt8]) throws(VMMError) -> Int {
        let sectorSize = VirtioBlockConfiguration.sectorSize
        switch operation {
        case .read(let sector, let buffers):
            try storage.read(into: buffers, at: sector * sectorSize)
            return buffers.reduce(0) { $0 + $1.count }
        case .write(let sector, let buffers):
            try storage.write(from: buffers.map { UnsafeRawBufferPointer($0) }, at: sector * sectorSize)
            return 0
        case .flush:
            try storage.flush()
            return 0
        case .getID(let buffers):
            var identifier = serial.prefix(Self.identifierSize)[...]
            var written = 0
            for buffer in buffers where !identifier.isEmpty {
                let count = min(buffer.count, identifier.count)
                UnsafeMutableRawBufferPointer(rebasing: buffer[..<count]).copyBytes(from: identifier.prefix(count))
                identifier = identifier.dropFirst(count)
                written += count
            }
            return written
        case .discard(let segments):
            for segment in segments {
                try storage.discard(offset: segment.sector * sectorSize, length: UInt64(segment.sectors) * sectorSize)
            }
            return 0
        case .writeZeroes(let segments):
            for segment in segments {
                try storage.writeZeroes(
                    offset: segment.sector * sectorSize, length: UInt64(segment.sectors) * sectorSize,
                    mayUnmap: segment.unmap)
            }
            return 0
        case .reject:
            return 0
        }
    }

    /// Stores `result` in the status byte; returns the used-ring length: the data bytes
    /// written plus the status byte, or 0 when the chain had no room for a status.
    func finish(_ result: VirtioBlockStatus, dataWritten: Int) -> UInt32 {
        guard let status else { return 0 }
        status[0] = result.rawValue
        return UInt32(truncatingIfNeeded: (result == .ok ? dataWritten : 0) + 1)
    }
}
