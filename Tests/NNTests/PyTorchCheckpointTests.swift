import Base
import Foundation
import NN
import Tensor
import TestSupport
import XCTest

/// The .pth reader against files written by torch.save (scripts/fixtures/pth_reference.py).
final class PyTorchCheckpointTests: XCTestCase {
    let dir = TestPaths.fixtures() + "/pth"

    /// Both formats give the tensors the script wrote as safetensors, exactly: float32, float16
    /// and bfloat16 storages, an int64 counter, a 0-d tensor and views of a shared storage. The
    /// optimizer's unknown class and numpy scalar are parsed as data and skipped.
    func testZipAndLegacy_MatchTheSafetensorsReference() throws {
        let reference = try SafeTensors.read(dir + "/state_reference.safetensors").tensors
        XCTAssertEqual(reference["shared.view"]?.shape, [3, 3])
        XCTAssertEqual(reference["expanded"]?.scalars, [1, -2, 3, 1, -2, 3, 1, -2, 3, 1, -2, 3])
        for name in ["state_zip.pth", "state_legacy.pth"] {
            let tensors = try TensorFile.readStateDict(dir + "/" + name)
            XCTAssertEqual(Set(tensors.keys), Set(reference.keys), name)
            for (k, r) in reference {
                XCTAssertEqual(tensors[k]?.shape, r.shape, "\(name) \(k)")
                XCTAssertEqual(tensors[k]?.scalars, r.scalars, "\(name) \(k)")
            }
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/state_zip.pth"))
        XCTAssertEqual(TensorFile.format(of: data), .pytorch(.zip))
        XCTAssertEqual(TensorFile.format(of: try Data(contentsOf: URL(fileURLWithPath: dir + "/state_legacy.pth"))), .pytorch(.legacy))
        XCTAssertEqual(TensorFile.format(of: try Data(contentsOf: URL(fileURLWithPath: dir + "/state_reference.safetensors"))), .safetensors)
    }

    /// The format comes from the bytes, not the name.
    func testFormatIsSniffed_NotTakenFromTheName() throws {
        let tmp = try makeTemporaryDirectory("pth")
        try FileManager.default.copyItem(atPath: dir + "/state_legacy.pth", toPath: tmp + "/weights.safetensors")
        try FileManager.default.copyItem(atPath: dir + "/state_reference.safetensors", toPath: tmp + "/weights.pth")
        XCTAssertEqual(try TensorFile.readStateDict(tmp + "/weights.safetensors")["scalar"]?.scalars, [2.5])
        XCTAssertEqual(try TensorFile.readStateDict(tmp + "/weights.pth")["scalar"]?.scalars, [2.5])
        try Data("hello, not tensors".utf8).write(to: URL(fileURLWithPath: tmp + "/x.pth"))
        XCTAssertThrowsError(try TensorFile.readStateDict(tmp + "/x.pth")) { e in
            XCTAssertTrue("\(e)".contains(tmp + "/x.pth") && "\(e)".contains("PyTorch"), "\(e)")
        }
    }

    /// Every key of the official DETR-R50 checkpoint (reduced shapes), views of three shared
    /// storages of three types, in a deflated archive.
    func testEveryOfficialDETRKey_DeflatedViewsOfSharedStorages() throws {
        let keysFile = try TestPaths.shared("checkpoint_keys/detr_r50.json")
        let official = try JSONDecoder().decode([String: [Int]].self, from: Data(contentsOf: URL(fileURLWithPath: keysFile)))
        let tensors = try TensorFile.readStateDict(dir + "/detr_keys_deflate.pth")
        XCTAssertEqual(Set(tensors.keys), Set(official.keys))
        var offsets = [0, 0, 0]
        for (i, key) in official.keys.sorted().enumerated() {
            let shape = official[key]!.map { Swift.min($0, 2) }
            let n = shape.reduce(1, *)
            let expected = (0..<n).map { j in Float((11 * (offsets[i % 3] + j)) % 97 - 48) / 16 }
            offsets[i % 3] += n
            XCTAssertEqual(tensors[key]?.shape, shape, key)
            XCTAssertEqual(tensors[key]?.scalars, expected, key)
        }
    }

    /// An archive with its sizes and offsets in zip64 records (as torch writes files over 4 GB).
    func testZip64Records() throws {
        let t = try TensorFile.readStateDict(dir + "/zip64.pth")
        XCTAssertEqual(t["a"]?.shape, [2, 3])
        XCTAssertEqual(t["a"]?.scalars, [1.5, -2, 3.25, 0, 4, -0.5])
        XCTAssertEqual(t["b"]?.scalars, [7, -8])
        // zipfile writes the real count and offset in the classic end record too; with them
        // marked 0xFFFF / 0xFFFFFFFF the reader must take them from the zip64 end record.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/zip64.pth")))
        let end = try XCTUnwrap((0...(bytes.count - 22)).reversed().first { bytes[$0..<($0 + 4)] == [0x50, 0x4B, 0x05, 0x06] })
        for i in [8, 9, 10, 11, 16, 17, 18, 19] { bytes[end + i] = 0xFF }
        let marked = try PyTorchCheckpoint.readStateDict(Data(bytes), path: "zip64-marked.pth")
        XCTAssertEqual(marked["a"]?.scalars, t["a"]?.scalars)
    }

    /// Hand-written pickles: the error names the file and what was refused; nothing runs.
    func testMalformedFiles_AreRefusedByName() throws {
        let cases: [(String, String)] = [
            ("global_os_system.pth", "unknown global 'os.system'"),
            ("global_os_system_legacy.pth", "os.system"),
            ("model_os_system.pth", "entry 'w' of 'model' is a call of unknown global 'os.system'"),
            ("bad_persistent_id.pth", "bad persistent id"),
            ("protocol0.pth", "PUT"),
            ("expanded_huge.pth", "expands a storage of 1 elements"),
        ]
        for (name, expected) in cases {
            let path = dir + "/" + name
            XCTAssertThrowsError(try TensorFile.readStateDict(path), name) { e in
                XCTAssertTrue("\(e)".hasPrefix(path + ": ") && "\(e)".contains(expected), "\(name): \(e)")
            }
        }
    }

    /// Every prefix of a file and seeded byte corruptions: an error naming the file or, where
    /// the change missed everything checked, a load; never a crash.
    func testTruncatedAndCorruptedFiles_AreErrorsNotCrashes() throws {
        for name in ["state_zip.pth", "state_legacy.pth", "detr_keys_deflate.pth", "zip64.pth"] {
            let path = dir + "/" + name
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            for length in Swift.stride(from: 0, to: data.count, by: Swift.max(1, data.count / 300)) {
                XCTAssertThrowsError(try PyTorchCheckpoint.readStateDict(data.prefix(length), path: path), "\(name) cut at \(length)") { e in
                    XCTAssertTrue("\(e)".hasPrefix(path + ": "), "\(e)")
                }
            }
            var rng = SplitMix64(seed: 17)
            for _ in 0..<300 {
                var bytes = [UInt8](data)
                for _ in 0..<3 { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
                do { _ = try PyTorchCheckpoint.readStateDict(Data(bytes), path: path) } catch {
                    XCTAssertTrue("\(error)".hasPrefix(path + ": "), "\(error)")
                }
            }
        }
        let storageCut = try Data(contentsOf: URL(fileURLWithPath: dir + "/state_legacy.pth")).dropLast(3)
        XCTAssertThrowsError(try PyTorchCheckpoint.readStateDict(Data(storageCut), path: "/x/cut.pth")) { e in
            XCTAssertTrue("\(e)".contains("truncated"), "\(e)")
        }
    }
}
