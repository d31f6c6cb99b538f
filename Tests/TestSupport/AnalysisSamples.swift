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
}
