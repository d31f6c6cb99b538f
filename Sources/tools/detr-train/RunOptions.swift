import ArgumentParser
import Pipeline

/// How a run goes: its length, threads, seed, where and how often it writes, and the
/// checkpoint it resumes. On `--resume` only the length, workers, threads and time limit
/// change what the run was started with.
struct RunOptions: ParsableArguments {
    @Option(help: "Last epoch (exclusive count: trains epochs --init-epoch+1 ... --epochs). On --resume: default the run's.")
    var epochs: Int?
    @Option(help: "Loader threads (0: load on the training thread). On --resume: default the run's.")
    var workers: Int?
    @Option(help: "Seed of initialisation, shuffling, augmentation and dropout.")
    var seed: UInt64 = 0
    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?
    @Option(help: "Save a numbered checkpoint every this many epochs.")
    var savePeriod: Int = 10
    @Option(help: "Folder of the runs.")
    var saveDir: String = "logs"
    @Option(help: "Evaluate COCO AP50 on the validation set every this many epochs (and at the last).")
    var evalPeriod: Int = 10
    @Option(help: "Stop before an epoch that would end later than this many seconds after the start.")
    var timeLimit: Double?
    @Option(help: "Continue a run from its checkpoint folder (logs/last).")
    var resume: String?

    /// Sets what a resumed run may change: the last epoch, workers, threads, the time limit.
    func applyResumable(to o: inout TrainOptions) {
        if let epochs { o.epochs = epochs }
        if let workers { o.workers = workers }
        o.threads = threads ?? o.threads
        o.timeLimit = timeLimit
    }

    /// Sets the run fields of `o` for a fresh run.
    func apply(to o: inout TrainOptions) {
        applyResumable(to: &o)
        o.seed = seed
        o.savePeriod = savePeriod
        o.saveDir = saveDir
        o.evalPeriod = evalPeriod
    }
}
