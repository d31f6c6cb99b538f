import Datasets
import Eval

/// The error analysis of EvalTests' generated TIDE case (4 classes, 14 images of 320x240 named
/// img01.jpg ...), for the tests of the figures and the report.
public enum AnalysisSamples {
    public static let casesFolder = TestPaths.repositoryRoot + "/Tests/EvalTests/Fixtures/cases"

    public static func tideGenerated(scoreThreshold: Double = 0.25) throws -> (gt: COCOInstances, results: [COCOResult], analysis: DetectionAnalysis) {
        let gt = try COCOInstances.load(casesFolder + "/tide-generated_gt.json")
        let results = try COCOResults.load(casesFolder + "/tide-generated_dt.json", groundTruth: gt).results
        return (gt, results, try DetectionAnalysis(groundTruth: gt, results: results, scoreThreshold: scoreThreshold))
    }

    /// The segm analysis of the generated TIDE mask case (3 classes, 8 images of 64x48 named
    /// m01.png ...; polygons, one crowd as RLE, results as compressed RLE).
    public static func tideGeneratedSegm(scoreThreshold: Double = 0.25) throws -> (gt: COCOInstances, results: [COCOResult], analysis: DetectionAnalysis) {
        let gt = try COCOInstances.load(casesFolder + "/tide-generated-segm_gt.json")
        let results = try COCOResults.load(casesFolder + "/tide-generated-segm_dt.json", groundTruth: gt).results
        return (gt, results, try DetectionAnalysis(groundTruth: gt, results: results, params: COCOEvalParams(iouType: .segm),
                                                   scoreThreshold: scoreThreshold))
    }
}
