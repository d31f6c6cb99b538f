import ArgumentParser
import Datasets

/// What a bare `.safetensors` state dict cannot tell about itself (`--classes`,
/// `--num-classes`, `--heads`), shared by the tools that load a checkpoint (`get-map`,
/// `predict`). A checkpoint folder's `state.json` holds all three; given there, a classes file
/// must agree with it in number.
public struct CheckpointOptions: ParsableArguments {
    @Option(help: "Classes file (one name a line) for a bare weights file (.safetensors or .pth); with a checkpoint folder it must agree in number.")
    public var classes: String?

    @Option(help: "Number of classes of a bare weights file (.safetensors or .pth) when no classes file is given (names class0, class1, ...).")
    public var numClasses: Int?

    @Option(help: "Attention heads of a bare weights file (cannot be read from its shapes; default 8).")
    public var heads: Int?

    public init() {}

    public func validate() throws {
        if let numClasses, numClasses < 1 { throw ValidationError("--num-classes must be at least 1") }
        if let heads, heads < 1 { throw ValidationError("--heads must be at least 1") }
    }

    /// The class names of `--classes`, a blank line (an unused id) named by `blank(index)`.
    public func classNames(blank: (Int) -> String) throws -> [String]? {
        guard let classes else { return nil }
        return try ClassList.load(classes).names.enumerated().map { i, n in n ?? blank(i) }
    }

    /// The checkpoint at `path` (a folder or a bare `.safetensors` file) with these options.
    public func load(_ path: String, inputSize: Int? = nil, blank: (Int) -> String) throws -> ModelBundle {
        try ModelBundle.load(path, classNames: try classNames(blank: blank), numClasses: numClasses, heads: heads,
                             inputSize: inputSize)
    }
}
