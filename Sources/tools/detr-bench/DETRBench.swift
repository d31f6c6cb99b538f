import ArgumentParser
import Base
import Tensor

/// Benchmarks against the Python references, measured in the same run (see DESIGN.md).
@main
struct DETRBench: ParsableCommand {
    static func main() {
        ProcessSetup.preferPassiveOpenMPThreads()
        Self.main(nil)
    }

    static let configuration = CommandConfiguration(
        commandName: "detr-bench",
        abstract: "Time the toolkit against the Python reference implementations, side by side.",
        discussion: """
        Each case is a fixed amount of work, timed as the median of --runs runs after a warm-up, \
        in its own process so that its peak RSS is its own. The reference runs in the same \
        invocation through the companion scripts in scripts/bench. With --json, stdout carries \
        one JSON line per (case, reference) pair and everything else goes to stderr; ratio = \
        ref_s / ours_s (above 1: we are faster).
        """,
        subcommands: [IOBench.self, OpsBench.self, EvalBench.self, DataBench.self, ModelBench.self, MemoryBench.self, ConvergeBench.self, RunCase.self])
}

/// Options shared by every area.
struct BenchOptions: ParsableArguments {
    @Flag(help: "Print only JSON lines on stdout.")
    var json = false

    @Option(help: "Timed runs per case (after one warm-up); the median is reported.")
    var runs: Int = 5

    @Option(help: "The shared data folder.")
    var data: String = "../shared/data"

    @Option(help: "Folder of the Python companion scripts.")
    var scripts: String = "scripts/bench"

    @Option(help: "Python interpreter for the references.")
    var python: String = "python3"

    @Option(help: "Run only the cases whose names contain this text.")
    var only: String?

    func validate() throws {
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    }
}
