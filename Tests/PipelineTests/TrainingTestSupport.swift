import Base
import Datasets
import Foundation
import Model
import Pipeline
import Tensor
import TestSupport
import XCTest

/// A small generated data set for training tests: demo shape images written as JPEG and an
/// annotation-lines file.
struct ShapesFixture {
    let directory: String
    let lines: String
    let classesFile: String
    let annotations: [(path: String, boxes: [LabeledBox])]

    /// `count` images of `side` pixels (square, or 3/4 high), seeded.
    static func make(in directory: String, count: Int, side: Int, square: Bool = true, seed: UInt64,
                     repeats: Int = 1) throws -> ShapesFixture {
        var rng = SplitMix64(seed: seed)
        var options = DemoData.Options()
        options.minSide = side
        options.maxSide = side
        options.square = square
        let classes = ClassList(names: DemoData.classNames)
        var ann: [(String, [LabeledBox])] = []
        try FileIO.makeDirectories(directory)
        for i in 0..<count {
            let (image, voc) = DemoData.makeImage(id: "img\(i)", options: options, using: &rng)
            let path = FileIO.join(directory, "img\(i).jpg")
            try ImageIO.save(image, to: path, quality: 95)
            let boxes = voc.objects.filter { !$0.difficult }.map { LabeledBox(box: $0.box, classId: classes.id(of: $0.name)!) }
            ann.append((path, boxes))
        }
        let lines = ann.map { AnnotationLine(imagePath: $0.0, boxes: $0.1) }
        let file = FileIO.join(directory, "train.txt")
        try AnnotationLines.write(Array(Array(repeating: lines, count: repeats).joined()), to: file)
        let classesFile = FileIO.join(directory, "classes.txt")
        try FileIO.writeAtomically(classesFile, text: DemoData.classNames.joined(separator: "\n") + "\n")
        return ShapesFixture(directory: directory, lines: file, classesFile: classesFile, annotations: ann)
    }
}

/// Training options for a tiny network that trains in seconds in a debug build (with the
/// family's dropout, 0.1; the trainer sets the classes and the batch norm).
func tinyTrainOptions(lines: String, saveDir: String) -> TrainOptions {
    var o = TrainOptions()
    o.trainList = lines
    o.classNames = DemoData.classNames
    o.config = ModelConfig(TinyConfig.detr(queries: 8, decoderLayers: 1, dropout: 0.1))
    o.inputSize = 64
    o.preset = .detr
    o.batch = 2
    o.epochs = 2
    o.workers = 1
    o.seed = 7
    o.saveDir = saveDir
    o.savePeriod = 1
    o.evalPeriod = 1
    return o
}
