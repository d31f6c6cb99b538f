import ArgumentParser
import Pipeline

@main
struct DETRTrain: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detr-train", abstract: "Train a DETR (in progress).")
    func run() throws { throw ToolError("not built yet") }
}
