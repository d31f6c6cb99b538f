import Foundation

// Built two ways. With `-DFUZZING` and `--sanitize=fuzzer --sanitize=address` (`make fuzz`)
// it is a libFuzzer binary: `DETR_FUZZ_TARGET=<target> detr-fuzz CORPUS -max_total_time=N`.
// Built normally it replays files through a target (`detr-fuzz <target> FILE|FOLDER...`), so
// the regression inputs of past findings run in every test build.

#if FUZZING
let selectedTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["DETR_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let known = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("detr-fuzz: set DETR_FUZZ_TARGET to one of: \(known)\n".utf8))
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selectedTarget.run(bytes)
    return 0
}
#else
@main
enum DetrFuzz {
    static func main() {
        var args = CommandLine.arguments.dropFirst()
        if args.first == "--list" {
            for t in FuzzTarget.allCases { print(t.rawValue, t.seedPatterns.joined(separator: " ")) }
            return
        }
        guard let name = args.popFirst(), let target = FuzzTarget(rawValue: name), !args.isEmpty else {
            let known = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("usage: detr-fuzz <target> FILE|FOLDER... (targets: \(known)); detr-fuzz --list\n".utf8))
            exit(2)
        }
        var count = 0
        for path in args {
            for file in files(path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("detr-fuzz: \(file): cannot read\n".utf8))
                    exit(1)
                }
                target.run([UInt8](data))
                count += 1
            }
        }
        print("\(target.rawValue): \(count) input(s) replayed")
    }

    /// `path` itself, or the regular files directly inside it, sorted.
    static func files(_ path: String) -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().map { path + "/" + $0 }.filter {
            var d: ObjCBool = false
            return FileManager.default.fileExists(atPath: $0, isDirectory: &d) && !d.boolValue
        }
    }
}
#endif
