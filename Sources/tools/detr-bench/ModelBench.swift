import ArgumentParser
import Model
import NN
import Tensor

/// `detr-bench model`: DETR-R50 inference (and, with the criterion, a training step) against
/// transformers' DetrForObjectDetection on the same shapes (scripts/bench/model_ref.py).
struct ModelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "DETR-R50 inference and training step vs PyTorch/transformers.")

    @OptionGroup var options: BenchOptions

    func run() throws {
        try Bench.runCases(Self.cases(), area: "model", options: options)
    }

    static func inference(batch: Int, height: Int, width: Int) -> BenchCase {
        let name = "detr-r50-infer-\(batch)x\(height)x\(width)"
        return BenchCase(name: name, reference: "transformers", referenceScript: "model_ref.py", referenceArguments: [name]) {
            var rng = SplitMix64(seed: 1)
            let model = DETR(DETRConfig(), using: &rng)
            let images = Tensor.uniform([batch, 3, height, width], low: -2, high: 2, using: &rng)
            let mask = BoolTensor([Bool](repeating: false, count: batch * height * width), shape: [batch, height, width])
            return {
                var ctx = ForwardContext.inference
                let out = withNoGrad { model(images: images, mask: mask, &ctx) }
                precondition(out.logits.shape == [batch, 100, 92])
            }
        }
    }

    /// One training step: forward, matching, loss, backward, gradient clipping and AdamW, on
    /// a batch of 2x3x512x512 with 10 boxes per image (DETR-R50 with frozen batch norm; the
    /// backbone trains at 0.1x as in DETR).
    static func trainingStep() -> BenchCase {
        let name = "detr-r50-train-2x512x512"
        return BenchCase(name: name, reference: "transformers", referenceScript: "model_ref.py", referenceArguments: [name]) {
            var rng = SplitMix64(seed: 2)
            let config = DETRConfig()
            let model = DETR(config, using: &rng)
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
            let optimizer = AdamW(groups: [ParameterGroup(parameters: rest, learningRate: config.learningRate, weightDecay: config.weightDecay),
                                           ParameterGroup(parameters: backbone, learningRate: config.backboneLearningRate,
                                                          weightDecay: config.weightDecay, lrScale: 0.1)])
            let criterion = SetCriterion(numClasses: config.numClasses, config: config)
            var stepRng = SplitMix64(seed: 3)
            return {
                optimizer.zeroGrad()
                var ctx = ForwardContext(training: true, rng: stepRng.split())
                let out = model(images: images, mask: mask, &ctx)
                let losses = try criterion(out, targets)
                losses.total.backward()
                clipGradNorm(model.parameters(), maxNorm: config.clipMaxNorm)
                optimizer.step()
            }
        }
    }

    static func cases() -> [BenchCase] {
        [inference(batch: 1, height: 800, width: 1066), inference(batch: 2, height: 800, width: 800), trainingStep()]
    }
}
