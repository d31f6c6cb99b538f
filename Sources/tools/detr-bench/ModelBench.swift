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

    static func cases() -> [BenchCase] {
        [inference(batch: 1, height: 800, width: 1066), inference(batch: 2, height: 800, width: 800)]
    }
}
