/// libFuzzer's entry points. SwiftPM links executables with `main` renamed to
/// `<Target>_main`, so that symbol hands control to libFuzzer's own driver.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ body: @convention(c) (UnsafeRawPointer?, Int) -> CInt
) -> CInt

@_cdecl("VirtqueueFuzzer_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runFuzzerDriver(&argc, &argv) { data, count in fuzzOneInput(data, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafeRawPointer?, _ count: Int) -> CInt {
    VirtqueueFuzzCase.run(UnsafeRawBufferPointer(start: data, count: count))
    return 0
}
