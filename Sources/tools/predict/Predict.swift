import ArgumentParser
import Pipeline

@main
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "predict", abstract: "Draw detections on images (in progress).")
    func run() throws { throw ToolError("not built yet") }
}
