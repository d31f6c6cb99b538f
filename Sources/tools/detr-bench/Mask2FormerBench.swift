import Base
import Model
import NN
import Tensor

/// `detr-bench model`'s Mask2Former cases: the R-50 model at the official COCO panoptic sizes
/// (133 classes, 100 queries, width 256, 6 deformable encoder layers, 9 decoder layers) against
/// transformers' Mask2FormerForUniversalSegmentation with a ResNet-50 backbone config on the same
/// shapes (scripts/bench/model_ref.py).
enum Mask2FormerBench {
    static func inference(batch: Int, height: Int, width: Int) -> BenchCase {
        let name = "mask2former-r50-infer-\(batch)x\(height)x\(width)"
        return BenchCase(name: name, reference: "transformers", referenceScript: "model_ref.py", referenceArguments: [name]) {
            var rng = SplitMix64(seed: 1)
            let model = Mask2Former(Mask2FormerConfig(), using: &rng)
            let images = Tensor.uniform([batch, 3, height, width], low: -2, high: 2, using: &rng)
            return {
                var ctx = ForwardContext.inference
                let out = withNoGrad { model(images: images, &ctx) }
                precondition(out.last.maskLogits.shape == [batch, 100, (height + 3) / 4, (width + 3) / 4])
            }
        }
    }

    /// One training step on 2x3x512x512 with 5 rectangular segments per image: forward, the
    /// criterion on every prediction (12544 points), backward, clipping at 0.01 and AdamW
    /// (the official solver: lr 1e-4, backbone 0.1x, weight decay 0.05).
    static func trainingStep() -> BenchCase {
        let name = "mask2former-r50-train-2x512x512"
        return BenchCase(name: name, reference: "transformers", referenceScript: "model_ref.py", referenceArguments: [name]) {
            var rng = SplitMix64(seed: 2)
            let config = Mask2FormerConfig()
            let model = Mask2Former(config, using: &rng)
            let images = Tensor.uniform([2, 3, 512, 512], low: -2, high: 2, using: &rng)
            var targets: [Mask2FormerTarget] = []
            for _ in 0..<2 {
                let masks = Tensor.zeros([5, 512, 512])
                for k in 0..<5 {
                    let y0 = rng.nextInt(below: 384), x0 = rng.nextInt(below: 384)
                    let h = 32 + rng.nextInt(below: 96), w = 32 + rng.nextInt(below: 96)
                    for y in y0..<(y0 + h) { for x in x0..<(x0 + w) { masks.data[(k * 512 + y) * 512 + x] = 1 } }
                }
                targets.append(Mask2FormerTarget(labels: (0..<5).map { _ in rng.nextInt(below: config.numClasses) }, masks: masks))
            }
            let backbone = model.namedParameters().filter { $0.key.hasPrefix("backbone") }.map { $0.tensor }
            let rest = model.namedParameters().filter { !$0.key.hasPrefix("backbone") }.map { $0.tensor }
            let optimizer = AdamW(groups: [ParameterGroup(parameters: rest, learningRate: 1e-4, weightDecay: 0.05),
                                           ParameterGroup(parameters: backbone, learningRate: 1e-5, weightDecay: 0.05, lrScale: 0.1)])
            let criterion = Mask2FormerCriterion(numClasses: config.numClasses)
            var stepRng = SplitMix64(seed: 3)
            return {
                optimizer.zeroGrad()
                var ctx = ForwardContext(training: true, rng: stepRng.split())
                let out = model(images: images, &ctx)
                var points = stepRng.split()
                let losses = try criterion(out.predictions, targets, using: &points)
                losses.total.backward()
                clipGradNorm(model.parameters(), maxNorm: 0.01)
                optimizer.step()
            }
        }
    }

    static func cases() -> [BenchCase] {
        [inference(batch: 1, height: 512, width: 512), inference(batch: 1, height: 800, width: 1066), trainingStep()]
    }
}
