import ArgumentParser
import Base

/// `get-map`: evaluation modes of the reference get_map.py and more, one subcommand each.
/// Each mode lives in its own file; add a mode by adding its command to `subcommands`.
@main
struct GetMap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get-map",
        abstract: "Evaluate detections or segmentations: VOC mAP, COCO mAP, panoptic quality, mIoU.",
        discussion: """
        Each mode prints the same table as its reference implementation and, with --json FILE, \
        writes every number (fractions in [0, 1], classes keyed by name). Bad input ends the \
        run with one line naming the file and a non-zero exit status.
        Without a mode name, get-map runs 'model': 'get-map logs/best --mode 0' evaluates a \
        checkpoint on the test split of VOCdevkit, as the reference get_map.py. A checkpoint \
        folder named like a mode (voc, coco, panoptic, semantic, model) is read as that mode: write \
        './voc' or 'get-map model voc'.
        """,
        subcommands: [ModelCommand.self, VOCCommand.self, COCOCommand.self, PanopticCommand.self, SemanticCommand.self],
        defaultSubcommand: ModelCommand.self)

    static func main() {
        // Model mode runs oneDNN/OpenBLAS: their threads should sleep, not spin, when idle.
        ProcessSetup.preferPassiveOpenMPThreads()
        Self.main(nil)
    }
}
