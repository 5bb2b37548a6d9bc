#if canImport(Glibc)
import Glibc
#endif
import KVM
import Testing

@testable import VMMCore

@Suite struct KVMEventFDTests {
    @Test func capabilitiesArePresent() throws {
        let kvm = try KVMSystem()
        #expect(kvm.check(.irqfd) > 0 && kvm.check(.ioeventfd) > 0)
        #expect(kvm.check(.interruptRouting) >= Int(InterruptRouter.gsiLimit))
    }

    @Test func ioeventfdAssignAndDeassign() throws {
        let vm = try KVMSystem().createVirtualMachine()
        let notifier = try EventNotifier()
        let fd = notifier.fileDescriptor
        try vm.assignIOEventFD(fd, address: 0xc000_3000, length: 2)
        try vm.assignIOEventFD(fd, address: 0xc000_3004, length: 2, dataMatch: 1)
        try vm.assignIOEventFD(fd, address: 0xc000_3004, length: 2, dataMatch: 2)
        try vm.assignIOEventFD(fd, address: 0xc000_3008, length: 0)
        #expect(throws: KVMError.self, "the same registration twice") {
            try vm.assignIOEventFD(fd, address: 0xc000_3000, length: 2)
        }
        try vm.deassignIOEventFD(fd, address: 0xc000_3000, length: 2)
        try vm.deassignIOEventFD(fd, address: 0xc000_3004, length: 2, dataMatch: 2)
        #expect(throws: KVMError.self, "already gone") { try vm.deassignIOEventFD(fd, address: 0xc000_3000, length: 2) }
        try vm.assignIOEventFD(fd, address: 0xc000_3000, length: 2)
    }

    @Test func ioeventfdArgumentsAreChecked() throws {
        let vm = try KVMSystem().createVirtualMachine()
        let notifier = try EventNotifier()
        let error = #expect(throws: KVMError.self) {
            try vm.assignIOEventFD(notifier.fileDescriptor, address: 0xc000_0000, length: 3)
        }
        #expect(error?.code == EINVAL && error?.description.contains("length 3") == true)
        #expect(throws: KVMError.self) {
            try vm.assignIOEventFD(notifier.fileDescriptor, address: 0xc000_0000, length: 0, dataMatch: 5)
        }
    }

    @Test func irqfdAssignAndDeassign() throws {
        let machine = try InterruptTestVM()
        let notifier = try EventNotifier()
        try machine.vm.assignIRQFD(notifier.fileDescriptor, gsi: 30)
        #expect(throws: KVMError.self, "an eventfd serves one GSI") {
            try machine.vm.assignIRQFD(notifier.fileDescriptor, gsi: 30)
        }
        try machine.vm.deassignIRQFD(notifier.fileDescriptor, gsi: 30)
        try machine.vm.assignIRQFD(notifier.fileDescriptor, gsi: 31)
    }
}
