import Base
import Model
import NN
import Tensor
import TestSupport
import XCTest

/// Mask2Former against transformers' Mask2FormerForUniversalSegmentation (fixture from
/// scripts/fixtures/mask2former_reference.py): a ResNet-18, width-64 model with 2 encoder and 6
/// decoder layers, weights regenerated from the fixture's SplitMix64 rule under the official
/// detectron2 keys, run on the two 64x96 images. The pixel decoder's maps, and the class and mask
/// logits of every prediction (query init and each layer), within 1e-4.
final class Mask2FormerParityTests: XCTestCase {
    struct Sampled: Decodable {
        let shape: [Int]
        let stride: Int
        let data: [Float]
    }

    struct Prediction: Decodable {
        let class_logits: EncodedTensor
        let mask_logits: Sampled
        let empty_attention_masks: Int
    }

    struct Target: Decodable {
        let labels: [Int]
        /// [y0, y1, x0, x1) of each mask on the 64x96 batch.
        let rects: [[Int]]

        var target: Mask2FormerTarget {
            let masks = Tensor.zeros([labels.count, 64, 96])
            for (k, r) in rects.enumerated() {
                for y in r[0]..<r[1] { for x in r[2]..<r[3] { masks.data[(k * 64 + y) * 96 + x] = 1 } }
            }
            return Mask2FormerTarget(labels: labels, masks: masks)
        }
    }

    struct OddSize: Decodable {
        let seed: UInt64
        let shape: [Int]
        let class_logits: EncodedTensor
        let mask_logits: Sampled
    }

    struct Loss: Decodable {
        let loss_cross_entropy, loss_mask, loss_dice: Double
        let indices: [[[Int]]]
    }

    struct Fixture: Decodable {
        struct Config: Decodable { let width, heads, queries, classes, encoder_layers, decoder_layers, feed_forward: Int }
        let rand_seed: UInt64
        let targets: [Target]
        let losses: [Loss]
        let loss: Double
        let grads: [String: HFParity.Sampled]
        let odd_size: OddSize
        let seed: UInt64
        let keys: [String]
        let ranges: [String: [Double]]
        let shapes: [String: [Int]]
        let image_seed: UInt64
        let config: Config
        let multi_scale_features: [Sampled]
        let mask_features: Sampled
        let predictions: [Prediction]
    }

    static func config(_ f: Fixture.Config) -> Mask2FormerConfig {
        var c = Mask2FormerConfig()
        c.backbone = .resnet18
        c.numClasses = f.classes
        c.convDim = f.width
        c.maskDim = f.width
        c.hiddenDim = f.width
        c.heads = f.heads
        c.encoderLayers = f.encoder_layers
        c.encoderFeedForward = f.feed_forward
        c.decoderLayers = f.decoder_layers
        c.feedForward = f.feed_forward
        c.numQueries = f.queries
        return c
    }

    /// The fixture's model with its weights, and its output on the fixture's images.
    static func run() throws -> (Fixture, Mask2Former, Mask2FormerOutput) {
        let f = try TestPaths.decodeFixture(Fixture.self, "mask2former_hf_reference.json")
        var rng = SplitMix64(seed: 1)
        let model = Mask2Former(config(f.config), using: &rng)
        try model.load(HFParity.filledState(keys: f.keys, shapes: f.shapes, ranges: f.ranges, seed: f.seed))
        var ctx = ForwardContext(training: false)
        let out = model(images: HFParity.images(seed: f.image_seed), &ctx)
        return (f, model, out)
    }

    func assertSampled(_ got: Tensor, _ want: Sampled, _ what: String) {
        XCTAssertEqual(got.shape, want.shape, what)
        let sampled = stride(from: 0, to: got.count, by: want.stride).map { got.data[$0] }
        assertClose(sampled, want.data, atol: 1e-4, rtol: 0, what)
    }

    func testKeysAndShapesAreTheFixtures() throws {
        let f = try TestPaths.decodeFixture(Fixture.self, "mask2former_hf_reference.json")
        var rng = SplitMix64(seed: 1)
        let model = Mask2Former(Self.config(f.config), using: &rng)
        let state = model.namedState()
        XCTAssertEqual(Set(state.map { $0.key }), Set(f.keys))
        XCTAssertEqual(state.count, f.keys.count)
        for (key, t) in state { XCTAssertEqual(t.shape, f.shapes[key], key) }
    }

    func testPixelDecoderMatchesTransformers() throws {
        let (f, _, out) = try Self.run()
        XCTAssertEqual(out.multiScaleFeatures.count, 3)
        for (i, (got, want)) in zip(out.multiScaleFeatures, f.multi_scale_features).enumerated() {
            assertSampled(got, want, "multi-scale feature \(i)")
        }
        assertSampled(out.maskFeatures, f.mask_features, "mask features")
    }

    func testEveryPredictionMatchesTransformers() throws {
        let (f, _, out) = try Self.run()
        XCTAssertEqual(out.predictions.count, f.config.decoder_layers + 1)
        // The fixture exercises the masked attention's rule for queries whose mask is empty.
        XCTAssertGreaterThan(f.predictions.map { $0.empty_attention_masks }.reduce(0, +), 0)
        for (i, (got, want)) in zip(out.predictions, f.predictions).enumerated() {
            XCTAssertEqual(got.classLogits.shape, want.class_logits.shape, "prediction \(i) class logits")
            assertClose(got.classLogits.scalars, want.class_logits.data, atol: 1e-4, rtol: 0, "prediction \(i) class logits")
            assertSampled(got.maskLogits, want.mask_logits, "prediction \(i) mask logits")
        }
    }

    /// Images whose sizes are not multiples of 32 (2x3x50x70: maps of 13x18 ... 2x3): the last
    /// prediction.
    func testOddSizesMatchTransformers() throws {
        let f = try TestPaths.decodeFixture(Fixture.self, "mask2former_hf_reference.json")
        var rng = SplitMix64(seed: 1)
        let model = Mask2Former(Self.config(f.config), using: &rng)
        try model.load(HFParity.filledState(keys: f.keys, shapes: f.shapes, ranges: f.ranges, seed: f.seed))
        var pixels = SplitMix64(seed: f.odd_size.seed)
        let images = Tensor(HFParity.stream(&pixels, f.odd_size.shape.reduce(1, *), low: -1, high: 1), shape: f.odd_size.shape)
        var ctx = ForwardContext(training: false)
        let last = withNoGrad { model(images: images, &ctx) }.last
        XCTAssertEqual(last.classLogits.shape, f.odd_size.class_logits.shape)
        assertClose(last.classLogits.scalars, f.odd_size.class_logits.data, atol: 1e-4, rtol: 0, "class logits")
        assertSampled(last.maskLogits, f.odd_size.mask_logits, "mask logits")
    }

    /// The matching and the terms of every prediction, the total and the gradients of a few
    /// parameters, with the point draws of the fixture's stream.
    func testLossesAndGradientsMatchTransformers() throws {
        let (f, model, out) = try Self.run()
        let criterion = Mask2FormerCriterion(numClasses: f.config.classes)
        var rng = SplitMix64(seed: f.rand_seed)
        let losses = try criterion(out.predictions, f.targets.map { $0.target }, using: &rng)
        XCTAssertEqual(losses.terms.count, f.losses.count)
        for (i, (got, want)) in zip(zip(losses.terms, losses.indices), f.losses).enumerated() {
            XCTAssertEqual(got.1.map { [$0.queries, $0.targets] }, want.indices, "prediction \(i) matching")
            XCTAssertLessThan(HFParity.relativeError(got.0.ce.item, want.loss_cross_entropy), 1e-4, "prediction \(i) loss_ce")
            XCTAssertLessThan(HFParity.relativeError(got.0.mask.item, want.loss_mask), 1e-4, "prediction \(i) loss_mask")
            XCTAssertLessThan(HFParity.relativeError(got.0.dice.item, want.loss_dice), 1e-4, "prediction \(i) loss_dice")
        }
        XCTAssertLessThan(HFParity.relativeError(losses.total.item, f.loss), 1e-4, "total")
        XCTAssertEqual(losses.named.count, 3 * f.losses.count)
        XCTAssertEqual(Array(losses.named.suffix(3).map { $0.name }), ["loss_ce", "loss_mask", "loss_dice"])
        XCTAssertEqual(losses.named[0].name, "loss_ce_0")
        let weighted = losses.named.map { Double($0.weight * $0.value.item) }.reduce(0, +)
        XCTAssertLessThan(HFParity.relativeError(Float(weighted), f.loss), 1e-4, "weighted named terms")
        losses.total.backward()
        HFParity.assertGradients(model, f.grads)
    }

    /// A state dict's shapes give back the configuration that made it (the fixture's sizes, and
    /// a variant with a trainable ResNet-34, 4 heads, other counts); a state dict without a
    /// Mask2Former key, or whose attention rows are not heads x 3 x 4, is refused.
    func testConfigInferredFromStateDictShapes() throws {
        let f = try TestPaths.decodeFixture(Fixture.self, "mask2former_hf_reference.json")
        var variant = Self.config(f.config)
        variant.backbone = .resnet34
        variant.backboneNorm = .trainable
        variant.numClasses = 5
        variant.heads = 4
        variant.decoderLayers = 3
        variant.encoderLayers = 1
        variant.numQueries = 9
        variant.maskDim = 32
        variant.feedForward = 96
        for c in [Self.config(f.config), variant] {
            var rng = SplitMix64(seed: 0)
            let shapes = Dictionary(uniqueKeysWithValues: Mask2Former(c, using: &rng).namedState().map { ($0.key, $0.tensor.shape) })
            XCTAssertTrue(Mask2FormerConfig.recognises(Set(shapes.keys)))
            XCTAssertEqual(try Mask2FormerConfig.inferred(from: shapes), c)
        }
        XCTAssertEqual(try Mask2FormerConfig.inferred(from: f.shapes), Self.config(f.config))
        var partial = f.shapes
        partial["sem_seg_head.predictor.query_feat.weight"] = nil
        XCTAssertFalse(Mask2FormerConfig.recognises(Set(partial.keys)))
        XCTAssertThrowsError(try Mask2FormerConfig.inferred(from: partial)) {
            XCTAssertTrue(String(describing: $0).contains("query_feat"), String(describing: $0))
        }
        var oddHeads = f.shapes
        oddHeads["sem_seg_head.pixel_decoder.transformer.encoder.layers.0.self_attn.attention_weights.weight"] = [50, 64]
        XCTAssertThrowsError(try Mask2FormerConfig.inferred(from: oddHeads))
    }

    /// The official R-50 model's keys (facebookresearch/Mask2Former's COCO checkpoints) at the
    /// paper's sizes: detectron2's backbone names, 6 encoder layers, 9 decoder layers, 100 queries.
    func testPaperSizesUseTheOfficialKeys() {
        var c = Mask2FormerConfig()
        c.numClasses = 133
        var rng = SplitMix64(seed: 0)
        let model = Mask2Former(c, using: &rng)
        let shapes = Dictionary(uniqueKeysWithValues: model.namedState().map { ($0.key, $0.tensor.shape) })
        let expected: [String: [Int]] = [
            "backbone.stem.conv1.weight": [64, 3, 7, 7],
            "backbone.stem.conv1.norm.running_var": [64],
            "backbone.res2.0.shortcut.weight": [256, 64, 1, 1],
            "backbone.res2.0.shortcut.norm.weight": [256],
            "backbone.res3.0.conv2.weight": [128, 128, 3, 3],
            "backbone.res5.2.conv3.norm.bias": [2048],
            "sem_seg_head.pixel_decoder.input_proj.0.0.weight": [256, 2048, 1, 1],
            "sem_seg_head.pixel_decoder.input_proj.2.1.weight": [256],
            "sem_seg_head.pixel_decoder.transformer.level_embed": [3, 256],
            "sem_seg_head.pixel_decoder.transformer.encoder.layers.5.self_attn.sampling_offsets.weight": [192, 256],
            "sem_seg_head.pixel_decoder.transformer.encoder.layers.5.self_attn.attention_weights.weight": [96, 256],
            "sem_seg_head.pixel_decoder.transformer.encoder.layers.5.linear1.weight": [1024, 256],
            "sem_seg_head.pixel_decoder.transformer.encoder.layers.5.norm2.bias": [256],
            "sem_seg_head.pixel_decoder.adapter_1.weight": [256, 256, 1, 1],
            "sem_seg_head.pixel_decoder.adapter_1.norm.weight": [256],
            "sem_seg_head.pixel_decoder.layer_1.weight": [256, 256, 3, 3],
            "sem_seg_head.pixel_decoder.mask_features.weight": [256, 256, 1, 1],
            "sem_seg_head.predictor.transformer_self_attention_layers.8.self_attn.in_proj_weight": [768, 256],
            "sem_seg_head.predictor.transformer_cross_attention_layers.8.multihead_attn.out_proj.weight": [256, 256],
            "sem_seg_head.predictor.transformer_ffn_layers.8.linear1.weight": [2048, 256],
            "sem_seg_head.predictor.transformer_ffn_layers.8.norm.weight": [256],
            "sem_seg_head.predictor.decoder_norm.weight": [256],
            "sem_seg_head.predictor.query_feat.weight": [100, 256],
            "sem_seg_head.predictor.query_embed.weight": [100, 256],
            "sem_seg_head.predictor.level_embed.weight": [3, 256],
            "sem_seg_head.predictor.class_embed.weight": [134, 256],
            "sem_seg_head.predictor.mask_embed.layers.2.weight": [256, 256],
        ]
        for (key, shape) in expected { XCTAssertEqual(shapes[key], shape, key) }
        XCTAssertNil(shapes["sem_seg_head.predictor.transformer_ffn_layers.9.linear1.weight"])
        XCTAssertNil(shapes["sem_seg_head.pixel_decoder.transformer.encoder.layers.6.linear1.weight"])
        XCTAssertFalse(shapes.keys.contains { $0.hasPrefix("sem_seg_head.predictor.input_proj") })
        XCTAssertFalse(shapes.keys.contains { $0.contains("num_batches_tracked") || $0.contains("layer1") || $0.contains(".bn") })
    }
}
