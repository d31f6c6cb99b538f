import Base
import Foundation
import NN
import Tensor
import TestSupport
import XCTest

final class SafeTensorsTests: XCTestCase {
    func tempDir() throws -> URL { URL(fileURLWithPath: try makeTemporaryDirectory("nn")) }

    func testRoundTrip_AllFloatTypes() throws {
        let a = Tensor([1.5, -2.25, 3, 0, 1e-8, -7], shape: [2, 3]), b = Tensor(scalar: 4)
        for dtype in [SafeTensors.DType.f32, .f16, .bf16] {
            let data = SafeTensors.encode(["a": a, "b": b], metadata: ["k": "v"], dtype: dtype)
            let (back, meta) = try SafeTensors.parse(data, path: "mem")
            XCTAssertEqual(meta, ["k": "v"])
            XCTAssertEqual(back["a"]!.shape, [2, 3])
            XCTAssertEqual(back["b"]!.shape, [])
            let tol: Float = dtype == .f32 ? 0 : (dtype == .f16 ? 1e-3 : 1e-2)
            for (x, y) in zip(back["a"]!.scalars, a.scalars) { XCTAssertEqual(x, y, accuracy: tol * Swift.max(1, Swift.abs(y))) }
        }
    }

    /// Truncated or lying files: an error naming the file, never a crash or a huge allocation.
    func testMalformedFiles() throws {
        let good = SafeTensors.encode(["w": Tensor([1, 2, 3, 4], shape: [2, 2])])
        func header(_ json: String) -> Data {
            var h = Data(json.utf8)
            while h.count % 8 != 0 { h.append(0x20) }
            var n = UInt64(h.count).littleEndian
            var d = Data(bytes: &n, count: 8)
            d.append(h)
            d.append(Data(count: 16))
            return d
        }
        var hugeLength = good
        hugeLength.replaceSubrange(0..<8, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        let cases: [(String, Data)] = [
            ("empty", Data()),
            ("short", Data([1, 2, 3])),
            ("truncated data", good.prefix(good.count - 4)),
            ("truncated header", good.prefix(12)),
            ("huge header length", hugeLength),
            ("not json", header("not json at all")),
            ("offsets past end", header(#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,64]}}"#)),
            ("size mismatch", header(#"{"w":{"dtype":"F32","shape":[3,3],"data_offsets":[0,16]}}"#)),
            ("negative offset", header(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#)),
            ("huge shape", header(#"{"w":{"dtype":"F32","shape":[1000000000000,1000000000000],"data_offsets":[0,16]}}"#)),
            ("bad dtype", header(#"{"w":{"dtype":"C64","shape":[2],"data_offsets":[0,16]}}"#)),
            ("overlap", header(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"v":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#)),
        ]
        for (name, data) in cases {
            XCTAssertThrowsError(try SafeTensors.parse(data, path: "/x/\(name).safetensors"), name) { error in
                XCTAssertTrue("\(error)".contains("/x/\(name).safetensors"), "\(name): \(error)")
            }
        }
        XCTAssertThrowsError(try SafeTensors.read("/nonexistent/m.safetensors")) { XCTAssertTrue("\($0)".contains("/nonexistent/m.safetensors")) }
    }

    func testStrictLoading_ListsEveryProblem() throws {
        var rng = SplitMix64(seed: 1)
        let mlp = MLP(input: 4, hidden: 8, output: 2, layers: 2, using: &rng)
        XCTAssertEqual(mlp.namedState().map { $0.key }, ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"])
        var state = mlp.stateDict().mapValues { $0.clone() }
        state["layers.1.bias"] = nil
        state["layers.0.weight"] = Tensor.zeros([8, 5])
        state["extra.weight"] = Tensor.zeros([1])
        let before = mlp.layers[0].bias!.scalars
        XCTAssertThrowsError(try mlp.load(state)) { error in
            XCTAssertEqual(error as? StateError, .mismatch(missing: ["layers.1.bias"], unexpected: ["extra.weight"],
                                                           misshaped: ["layers.0.weight (model [8, 4], file [8, 5])"]))
        }
        XCTAssertEqual(mlp.layers[0].bias!.scalars, before, "a refused strict load changes nothing")
        // Non-strict loads what matches.
        state["layers.0.bias"] = Tensor.full([8], 3)
        XCTAssertNotNil(try mlp.load(state, strict: false))
        XCTAssertEqual(mlp.layers[0].bias!.scalars, [Float](repeating: 3, count: 8))
    }

    func testCheckpoint_AtomicReplace() throws {
        let dir = try tempDir().appendingPathComponent("last").path
        let model = ["w": Tensor([1, 2], shape: [2])]
        try Checkpoint.save(to: dir, model: model, optimizer: ["step": Tensor(scalar: 1)], state: Data(#"{"epoch":1}"#.utf8))
        try Checkpoint.save(to: dir, model: ["w": Tensor([5, 6], shape: [2])], optimizer: nil, state: Data(#"{"epoch":2}"#.utf8))
        let (m, opt, s) = try Checkpoint.load(from: dir)
        XCTAssertEqual(m["w"]!.scalars, [5, 6])
        XCTAssertNil(opt)
        XCTAssertEqual(String(decoding: s, as: UTF8.self), #"{"epoch":2}"#)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: URL(fileURLWithPath: dir).deletingLastPathComponent().path)
        XCTAssertEqual(leftovers, ["last"])
        #if os(Linux)
        // The swap itself: two folders exchange their contents in one step.
        let base = try tempDir()
        let a = base.appendingPathComponent("a").path, b = base.appendingPathComponent("b").path
        try FileManager.default.createDirectory(atPath: a, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: b, withIntermediateDirectories: true)
        try Data("A".utf8).write(to: URL(fileURLWithPath: a + "/f"))
        try Data("B".utf8).write(to: URL(fileURLWithPath: b + "/f"))
        XCTAssertTrue(Checkpoint.renameExchange(a, b))
        XCTAssertEqual(try String(contentsOfFile: a + "/f", encoding: .utf8), "B")
        XCTAssertEqual(try String(contentsOfFile: b + "/f", encoding: .utf8), "A")
        XCTAssertFalse(Checkpoint.renameExchange(a, base.appendingPathComponent("missing").path))
        #endif
    }

    func testFreezeByPrefix() {
        var rng = SplitMix64(seed: 2)
        let mlp = MLP(input: 2, hidden: 3, output: 1, layers: 3, using: &rng)
        mlp.freeze(prefixes: ["layers.0", "layers.2.bias"])
        XCTAssertEqual(mlp.namedParameters().map { $0.key }, ["layers.1.weight", "layers.1.bias", "layers.2.weight"])
        mlp.unfreeze()
        XCTAssertEqual(mlp.namedParameters().count, 6)
    }

    func testLinearInit_Bounds() {
        var rng = SplitMix64(seed: 3)
        let l = Linear(64, 32, using: &rng)
        let bound: Float = 1 / 8
        XCTAssertTrue(l.weight.scalars.allSatisfy { Swift.abs($0) <= bound })
        XCTAssertGreaterThan(l.weight.scalars.map { Swift.abs($0) }.max()!, bound * 0.95)
        XCTAssertTrue(l.bias!.scalars.allSatisfy { Swift.abs($0) <= bound })
    }
}
