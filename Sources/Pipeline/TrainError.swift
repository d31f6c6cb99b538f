/// Errors of a training run; each names what it is about.
public enum TrainError: Error, CustomStringConvertible {
    case invalidOptions([String])
    case nonFiniteLoss(epoch: Int, iteration: Int, step: Int, value: Float, checkpoint: String?)
    case unknownClass(list: String, image: String, classId: Int, classCount: Int)
    case noSamples(String)
    case backboneWeights(path: String, reason: String)
    case resume(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidOptions(list):
            return "invalid settings: " + list.joined(separator: "; ")
        case let .nonFiniteLoss(epoch, iteration, step, value, checkpoint):
            let kept = checkpoint.map { "; the last good checkpoint is \($0)" } ?? "; no checkpoint was written yet"
            return "non-finite loss (\(value)) at epoch \(epoch + 1), iteration \(iteration + 1) (step \(step + 1)): training stopped\(kept)"
        case let .unknownClass(list, image, classId, classCount):
            return "\(list): \(image): class id \(classId) is not in the classes file (\(classCount) classes, ids 0..\(classCount - 1))"
        case let .noSamples(what):
            return "\(what): no usable samples"
        case let .backboneWeights(path, reason):
            return "\(path): \(reason)"
        case let .resume(path, reason):
            return "\(path): cannot resume: \(reason)"
        }
    }
}
