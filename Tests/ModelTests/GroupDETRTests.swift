import Base
import Foundation
import Model
import NN
import Tensor
import TestSupport
import XCTest

/// Group DETR by its properties (training mode, dropout 0), for both families: every group's
/// outputs equal a one-group model given that group's queries; the K-group loss equals the mean
/// of the K single-group losses; inference of a K-group model is the one-group model with group
/// 0's rows. Also the Conditional DETR keys against the official checkpoint's.
final class GroupDETRTests: XCTestCase {
    static func conditional(groups: Int) -> ConditionalDETRConfig { TinyConfig.conditionalDETR(queries: 5, groups: groups) }

    static func detr(groups: Int) -> DETRConfig {
        var c = TinyConfig.detr(queries: 5, groups: groups)
        c.classLoss = .sigmoid
        return c
    }

    static let images: (Tensor, BoolTensor) = {
        var rng = SplitMix64(seed: 5)
        let x = Tensor.uniform([2, 3, 64, 80], low: -1, high: 1, using: &rng)
        var mask = [Bool](repeating: false, count: 2 * 64 * 80)
        for y in 0..<64 { for xx in 0..<80 where y >= 48 || xx >= 64 { mask[64 * 80 + y * 80 + xx] = true } }
        return (x, BoolTensor(mask, shape: [2, 64, 80]))
    }()

    static let targets = [
        DETRTarget(labels: [0, 2], boxes: Tensor([0.3, 0.4, 0.2, 0.3, 0.7, 0.6, 0.3, 0.4], shape: [2, 4])),
        DETRTarget(labels: [1], boxes: Tensor([0.45, 0.55, 0.5, 0.4], shape: [1, 4])),
    ]

    func assertSame(_ a: Tensor, _ b: Tensor, _ what: String, tol: Float = 2e-5) {
        XCTAssertEqual(a.shape, b.shape, what)
        let worst = zip(a.scalars, b.scalars).map { Swift.abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tol, "\(what): max difference \(worst)")
    }

    /// A one-group network with the K-group network's weights and group g's query rows.
    func single(_ grouped: any DetectionNetwork, _ config: any DetectorConfig, queries q: Int, group g: Int) throws -> any DetectionNetwork {
        var c1 = config
        var s = ArchitectureSettings()
        s.groups = 1
        _ = c1.apply(s)
        var rng = SplitMix64(seed: 99)
        let net = c1.makeNetwork(using: &rng)
        var state = grouped.stateDict()
        state["query_embed.weight"] = state["query_embed.weight"]!.slice(axis: 0, (g * q)..<((g + 1) * q))
        try net.load(state)
        return net
    }

    func checkGroups(_ config: any DetectorConfig, queries q: Int, groups k: Int) throws {
        var rng = SplitMix64(seed: 3)
        let net = config.makeNetwork(using: &rng)
        XCTAssertEqual(net.stateDict()["query_embed.weight"]!.shape[0], k * q)
        let (images, mask) = Self.images
        var ctx = ForwardContext(training: true)
        let out = net(images: images, mask: mask, &ctx)
        XCTAssertEqual(out.groups, k)
        XCTAssertEqual(out.numQueries, k * q)
        let criterion = config.makeCriterion()
        let grouped = try criterion(out, Self.targets)
        var mean: Float = 0
        for g in 0..<k {
            let one = try single(net, config, queries: q, group: g)
            var ctx1 = ForwardContext(training: true)
            let o1 = one(images: images, mask: mask, &ctx1)
            let part = out.group(g)
            assertSame(part.logits, o1.logits, "group \(g) logits")
            assertSame(part.boxes, o1.boxes, "group \(g) boxes")
            for (i, (a, b)) in zip(part.aux, o1.aux).enumerated() { assertSame(a.boxes, b.boxes, "group \(g) aux \(i) boxes") }
            mean += try criterion(o1, Self.targets).total.item / Float(k)
            // The grouped matching is each group's matching, offset by g * Q.
            let m1 = try criterion.matcher(o1, Self.targets)
            for (img, m) in grouped.indices.enumerated() {
                let inGroup = zip(m.queries, m.targets).filter { $0.0 / q == g }
                XCTAssertEqual(inGroup.map { $0.0 - g * q }, m1[img].queries, "group \(g) image \(img) queries")
                XCTAssertEqual(inGroup.map(\.1), m1[img].targets, "group \(g) image \(img) targets")
            }
        }
        XCTAssertEqual(grouped.total.item, mean, accuracy: 1e-4 * Swift.abs(mean), "K-group loss = mean of the single-group losses")

        // Inference: group 0 only, equal to the one-group network with group 0's rows.
        let inference = withNoGrad { () -> DETROutput in
            var c = ForwardContext.inference
            return net(images: images, mask: mask, &c)
        }
        XCTAssertEqual(inference.groups, 1)
        XCTAssertEqual(inference.numQueries, q)
        let zero = try single(net, config, queries: q, group: 0)
        let reference = withNoGrad { () -> DETROutput in
            var c = ForwardContext.inference
            return zero(images: images, mask: mask, &c)
        }
        assertSame(inference.logits, reference.logits, "inference logits")
        assertSame(inference.boxes, reference.boxes, "inference boxes")
    }

    func testConditionalDETR_GroupsAreIndependentSingleGroups() throws {
        try checkGroups(Self.conditional(groups: 3), queries: 5, groups: 3)
    }

    func testDETR_GroupsAreIndependentSingleGroups() throws {
        try checkGroups(Self.detr(groups: 3), queries: 5, groups: 3)
    }

    /// The focal recipe's initialisation: the class bias at the prior -log(99) (probability
    /// 0.01), the last box layer at zero (boxes start at the reference point, 0.5 wide).
    func testConditionalDETR_PriorBiasAndZeroBoxLayer() {
        var rng = SplitMix64(seed: 1)
        let net = ConditionalDETR(Self.conditional(groups: 1), using: &rng)
        let (images, mask) = Self.images
        var ctx = ForwardContext.inference
        let out = withNoGrad { net(images: images, mask: mask, &ctx) }
        for b in net.heads.classEmbed.bias!.scalars { XCTAssertEqual(b, -Float(Foundation.log(99.0)), accuracy: 1e-6) }
        let boxes = out.boxes.scalars
        for i in 0..<(boxes.count / 4) {
            XCTAssertEqual(boxes[4 * i + 2], 0.5, accuracy: 1e-6, "width starts at sigmoid(0)")
            XCTAssertEqual(boxes[4 * i + 3], 0.5, accuracy: 1e-6)
        }
    }

    /// Our keys and shapes equal the official Atten4Vis/ConditionalDETR R50 checkpoint's.
    func testConditionalDETRR50_KeysAndShapesEqualOfficial() throws {
        let official = try DETRKeysTests.officialKeys("conditional_detr_r50.json")
        XCTAssertEqual(official.count, 564)
        var rng = SplitMix64(seed: 0)
        DETRKeysTests.assertKeysAndShapes(ConditionalDETR(ConditionalDETRConfig(), using: &rng), equal: official)
        XCTAssertTrue(ConditionalDETRConfig.recognises(Set(official.keys)))
        XCTAssertFalse(DETRConfig.recognises(Set(official.keys)))
        let inferred = try ConditionalDETRConfig.inferred(from: official, numClasses: nil)
        XCTAssertEqual(inferred, ConditionalDETRConfig(), "the official R50's shapes give the paper's config")
    }

    /// Sigmoid post-processing: the top pairs over queries x classes, a query may give two classes.
    func testPostProcess_SigmoidTopK() throws {
        let logits = Tensor([2, 1, -3, /**/ -1, 3, 0.5, /**/ -4, -4, -4], shape: [1, 3, 3])
        let boxes = Tensor([0.5, 0.5, 0.2, 0.2, 0.3, 0.3, 0.2, 0.4, 0.5, 0.5, 1, 1], shape: [1, 3, 4])
        let out = DETROutput(logits: logits, boxes: boxes, scoring: .sigmoid)
        var pp = PostProcess()
        pp.candidates = 4
        let dets = try pp(out, imageSizes: [(height: 100, width: 200)])[0]
        XCTAssertEqual(dets.map(\.query), [1, 0, 0, 1])
        XCTAssertEqual(dets.map(\.label), [1, 0, 1, 2])
        XCTAssertEqual(dets[0].score, 1 / (1 + Foundation.exp(-3)), accuracy: 1e-6)
        XCTAssertEqual(dets[1].box.x0, 80, accuracy: 1e-4)
        XCTAssertEqual(dets[1].box.y1, 60, accuracy: 1e-4)
        let thresholded = try PostProcess(scoreThreshold: 0.7)(out, imageSizes: [(height: 100, width: 200)])[0]
        XCTAssertEqual(thresholded.map(\.label), [1, 0, 1])
    }
}
