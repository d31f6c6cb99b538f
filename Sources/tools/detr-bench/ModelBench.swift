import ArgumentParser
import Base
import Model
import NN
import Tensor

/// `detr-bench model`: DETR-R50 and Conditional DETR-R50 inference (and, with the criterion,
/// training steps) against transformers' DetrForObjectDetection / ConditionalDetrForObjectDetection
/// on the same shapes (scripts/bench/model_ref.py); Group DETR's K=11 training step against
/// K=1 of the same network (our own, same run: the ratio is the cost of the groups); Mask2Former-R50
/// inference and training steps against transformers' Mask2FormerForUniversalSegmentation.
struct ModelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "DETR-R50, Conditional DETR-R50 and Mask2Former-R50 inference and training steps vs PyTorch/transformers.")

    @OptionGroup var options: BenchOptions

    func run() throws {
        try Bench.runCases(Self.cases(), area: "model", options: options)
    }

    static func inference(_ config: any DetectorConfig = DETRConfig(), batch: Int, height: Int, width: Int) -> BenchCase {
        let family = type(of: config).family
        let name = "\(family)-r50-infer-\(batch)x\(height)x\(width)"
        let width1 = config.numClasses + (family == DETRConfig.family ? 1 : 0)
        let queries = (config as? ConditionalDETRConfig)?.numQueries ?? (config as? DETRConfig)?.numQueries ?? 0
        return BenchCase(name: name, reference: "transformers", referenceScript: "model_ref.py", referenceArguments: [name]) {
            var rng = SplitMix64(seed: 1)
            let model = config.makeNetwork(using: &rng)
            let images = Tensor.uniform([batch, 3, height, width], low: -2, high: 2, using: &rng)
            let mask = BoolTensor([Bool](repeating: false, count: batch * height * width), shape: [batch, height, width])
            return {
                var ctx = ForwardContext.inference
                let out = withNoGrad { model(images: images, mask: mask, &ctx) }
                precondition(out.logits.shape == [batch, queries, width1])
            }
        }
    }

    /// One training step: forward, matching, loss, backward, gradient clipping and AdamW, on
    /// a batch of 2x3x512x512 with 10 boxes per image (DETR-R50 with frozen batch norm; the
    /// backbone trains at 0.1x as in DETR).
    static func trainingStep(_ config: any DetectorConfig = DETRConfig(), name: String = "detr-r50-train-2x512x512",
                             referenceCase: String? = nil) -> BenchCase {
        BenchCase(name: name, reference: "transformers", referenceScript: "model_ref.py", referenceArguments: [referenceCase ?? name]) {
            var rng = SplitMix64(seed: 2)
            let model = config.makeNetwork(using: &rng)
            let images = Tensor.uniform([2, 3, 512, 512], low: -2, high: 2, using: &rng)
            let mask = BoolTensor([Bool](repeating: false, count: 2 * 512 * 512), shape: [2, 512, 512])
            var targets: [DETRTarget] = []
            for _ in 0..<2 {
                var boxes: [Float] = []
                for _ in 0..<10 {
                    boxes += [0.2 + 0.6 * rng.nextFloat(), 0.2 + 0.6 * rng.nextFloat(), 0.05 + 0.3 * rng.nextFloat(), 0.05 + 0.3 * rng.nextFloat()]
                }
                targets.append(DETRTarget(labels: (0..<10).map { _ in rng.nextInt(below: 91) }, boxes: Tensor(boxes, shape: [10, 4])))
            }
            let backbone = model.namedParameters().filter { $0.key.hasPrefix("backbone") }.map { $0.tensor }
            let rest = model.namedParameters().filter { !$0.key.hasPrefix("backbone") }.map { $0.tensor }
            let optimizer = AdamW(groups: [ParameterGroup(parameters: rest, learningRate: 1e-4, weightDecay: 1e-4),
                                           ParameterGroup(parameters: backbone, learningRate: 1e-5, weightDecay: 1e-4, lrScale: 0.1)])
            let criterion = config.makeCriterion()
            var stepRng = SplitMix64(seed: 3)
            return {
                optimizer.zeroGrad()
                var ctx = ForwardContext(training: true, rng: stepRng.split())
                let out = model(images: images, mask: mask, &ctx)
                let losses = try criterion(out, targets)
                losses.total.backward()
                clipGradNorm(model.parameters(), maxNorm: 0.1)
                optimizer.step()
            }
        }
    }

    static func cases() -> [BenchCase] {
        var groups11 = ConditionalDETRConfig()
        groups11.groups = 11
        return [inference(batch: 1, height: 800, width: 1066), inference(batch: 2, height: 800, width: 800), trainingStep(),
                inference(ConditionalDETRConfig(), batch: 1, height: 800, width: 1066),
                trainingStep(ConditionalDETRConfig(), name: "conditional-detr-r50-train-2x512x512"),
                // Group DETR: K=11 against transformers' K=1 step of the same network (its ratio to
                // our K=1 case above is the cost of the groups).
                trainingStep(groups11, name: "conditional-detr-r50-train-k11-2x512x512", referenceCase: "conditional-detr-r50-train-2x512x512")]
            + Mask2FormerBench.cases()
    }
}
