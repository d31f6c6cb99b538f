import ArgumentParser
import Foundation

/// Internal: runs one of our cases in this process and prints its measurement as JSON.
struct RunCase: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run-case", abstract: "Internal: time one case in this process.",
                                                    shouldDisplay: false)
    @Argument var area: String
    @Argument var name: String
    @Option var runs: Int = 5
    @Option var data: String = "../shared/data"

    func run() throws {
        let cases: [BenchCase]
        switch area {
        case "io": cases = IOBench.cases(data: data)
        case "ops": cases = OpsBench.cases()
        case "model": cases = ModelBench.cases()
        case "eval": cases = EvalBench.cases(data: data)
        case "data": cases = DataBench.cases(data: data)
        case "memory": cases = MemoryBench.cases(data: data)
        default: throw ValidationError("unknown area \(area)")
        }
        guard let c = cases.first(where: { $0.name == name }) else { throw ValidationError("unknown case \(name)") }
        let m = try Bench.measure(runs: runs, try c.prepare())
        print(String(decoding: try JSONEncoder().encode(m), as: UTF8.self))
    }
}
