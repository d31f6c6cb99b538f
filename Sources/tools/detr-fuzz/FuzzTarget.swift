import Datasets
import Foundation
import NN
import Pipeline

/// The readers the fuzzer drives, by name (safetensors and PyTorch .pth included). Each takes any bytes and must return or throw an
/// error: never trap, hang or allocate without bound.
enum FuzzTarget: String, CaseIterable {
    case vocXML = "voc-xml"
    case cocoInstances = "coco-instances"
    case cocoResults = "coco-results"
    case cocoPanoptic = "coco-panoptic"
    case annotationLines = "annotation-lines"
    case classes
    case image
    case pngSegmentIDs = "png-segment-ids"
    case pngIndexed = "png-indexed"
    case safetensors
    case pth
    case checkpointState = "checkpoint-state"

    /// Runs the reader on `bytes`, ignoring the errors it throws (an error is a correct answer).
    func run(_ bytes: [UInt8]) {
        switch self {
        case .vocXML: _ = try? VOCAnnotation.parse(bytes, path: "fuzz.xml")
        case .cocoInstances: _ = try? COCOInstances.parse(bytes, path: "fuzz.json")
        case .cocoResults:
            // Results are read against ground truth: the first byte picks strict or lenient.
            _ = try? COCOResults.parse(bytes, path: "fuzz.json", groundTruth: Self.groundTruth, lenient: (bytes.first ?? 0) & 1 == 1)
        case .cocoPanoptic: _ = try? COCOPanoptic.decode(bytes, path: "fuzz.json")
        case .annotationLines: _ = try? AnnotationLines.parse(String(decoding: bytes, as: UTF8.self), path: "fuzz.txt")
        case .classes: _ = try? ClassList.parse(String(decoding: bytes, as: UTF8.self), path: "fuzz.txt")
        case .image:
            _ = try? ImageIO.size(of: bytes, path: "fuzz.img")
            _ = try? ImageIO.decode(bytes, path: "fuzz.img")
        case .pngSegmentIDs: _ = ImageIO.decodePNGSegmentIDs(bytes)
        case .pngIndexed: _ = try? ImageIO.decodeIndexed(bytes, path: "fuzz.png")
        case .safetensors: _ = try? SafeTensors.parse(Data(bytes), path: "fuzz.safetensors")
        case .pth: _ = try? PyTorchCheckpoint.readStateDict(Data(bytes), path: "fuzz.pth")
        case .checkpointState: _ = try? CheckpointState.decode(Data(bytes), path: "state.json")
        }
    }

    /// Two images, two categories and a crowd: what results are matched against.
    static let groundTruth: COCOInstances = {
        let text = """
        {"images": [{"id": 1, "width": 64, "height": 48}, {"id": 2, "width": 32, "height": 32}],
         "categories": [{"id": 1, "name": "a"}, {"id": 3, "name": "b"}],
         "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 12], "area": 120, "iscrowd": 0},
                         {"id": 2, "image_id": 2, "category_id": 3, "bbox": [0, 0, 32, 32], "area": 1024, "iscrowd": 1}]}
        """
        // A fixed, valid document: a failure here is a bug of this file, not of the input.
        return try! COCOInstances.parse(Array(text.utf8), path: "fuzz-ground-truth.json")
    }()

    /// Seed inputs: the test fixtures each reader is tested on, and the hand-written seeds in
    /// `Tests/FuzzCorpus/<target>/` (which also hold the regression inputs of past findings).
    var seedPatterns: [String] {
        switch self {
        case .vocXML: return ["Tests/FuzzCorpus/voc-xml"]
        case .cocoInstances, .cocoResults: return ["Tests/EvalTests/Fixtures/cases"]
        case .cocoPanoptic: return ["Tests/EvalTests/Fixtures/cases"]
        case .annotationLines: return ["Tests/FuzzCorpus/annotation-lines"]
        case .classes: return ["Tests/FuzzCorpus/classes", "data"]
        case .image, .pngSegmentIDs: return ["Tests/DatasetsTests/Fixtures/images"]
        case .pngIndexed: return ["Tests/DatasetsTests/Fixtures/indexed", "Tests/DatasetsTests/Fixtures/images"]
        case .safetensors: return ["Tests/NNTests/Fixtures/library.safetensors"]
        case .pth: return ["Tests/NNTests/Fixtures/pth"]
        case .checkpointState: return ["Tests/PipelineTests/Fixtures/checkpoint_v1/state.json"]
        }
    }
}
