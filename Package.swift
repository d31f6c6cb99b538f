// swift-tools-version:6.0
// DETR toolkit: data sets, augmentation, evaluation and DETR-family models in Swift.
import PackageDescription

let package = Package(
    name: "DETRKit",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Base", targets: ["Base"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "Augment", targets: ["Augment"]),
        .library(name: "Eval", targets: ["Eval"]),
        .library(name: "Plots", targets: ["Plots"]),
        .library(name: "Report", targets: ["Report"]),
        .library(name: "Model", targets: ["Model"]),
        .executable(name: "voc-annotation", targets: ["voc-annotation"]),
        .executable(name: "demo-data", targets: ["demo-data"]),
        .executable(name: "detr-bench", targets: ["detr-bench"]),
        .executable(name: "get-map", targets: ["get-map"]),
        .executable(name: "detr-train", targets: ["detr-train"]),
        .executable(name: "predict", targets: ["predict"]),
        .executable(name: "detr-fuzz", targets: ["detr-fuzz"]),
        .library(name: "ToolSupport", targets: ["ToolSupport"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System-library shims: a modulemap and one header each.
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CXML2", path: "Sources/CXML2", pkgConfig: "libxml-2.0",
                       providers: [.apt(["libxml2-dev"])]),
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo",
                       providers: [.apt(["libcairo2-dev"])]),
        // oneDNN has no pkg-config file; its header is on the default include path.
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // libdeflate (libdeflate-dev): deflated zip entries of PyTorch checkpoints, and CRC-32.
        .systemLibrary(name: "CDeflate", path: "Sources/CDeflate", providers: [.apt(["libdeflate-dev"])]),
        // libjpeg and libpng report errors with longjmp; this C target catches them with setjmp
        // and turns them into return codes and messages. libdeflate (libdeflate-dev) inflates
        // the PNG fast path's IDAT streams (png_fast.c).
        .target(name: "CImageShim", dependencies: ["CJPEG", "CPNG"], path: "Sources/CImageShim",
                linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("deflate")]),

        // Vectorised row kernels (softmax, layer norm, exp) with run-time dispatch to the
        // widest vector unit: Swift's SIMD types lower poorly on the default x86-64 target.
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O3", "-fno-math-errno", "-ffp-contract=fast"])]),
        // Open MPI loaded at run time (dlopen of libmpi.so.40): data-parallel training under
        // mpirun without linking MPI, so every tool runs where Open MPI is not installed.
        .target(name: "CMPIShim", path: "Sources/CMPIShim", linkerSettings: [.linkedLibrary("dl")]),
        // The seeded generator and process set-up that every tool shares, with no dependency.
        .target(name: "Base"),
        .target(name: "Tensor", dependencies: ["Base", "COpenBLAS", "CDNNL", "CKernels"]),
        .target(name: "NN", dependencies: ["Base", "Tensor", "CDeflate"]),
        .target(name: "Datasets", dependencies: ["Base", "CImageShim", "CXML2"]),
        .target(name: "Augment", dependencies: ["Base", "Datasets", "Tensor"]),
        // Evaluation is computation only; Plots draws (Cairo) what the data and Eval hold:
        // detections on images, curves, charts and the VOC mAP report's figures.
        .target(name: "Eval", dependencies: ["Datasets"]),
        .target(name: "Plots", dependencies: ["Datasets", "Eval", "CCairo"]),
        // The error analysis as one self-contained HTML page (figures from Plots embedded).
        .target(name: "Report", dependencies: ["Datasets", "Eval", "Plots"]),
        .target(name: "Model", dependencies: ["NN", "Tensor"]),
        // The command-line plumbing of every tool: one-line errors, stdout/stderr lines,
        // progress bars, atomic text files and the option groups that need no model.
        .target(name: "ToolSupport", dependencies: [
            "Base", "Datasets", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // What the model tools share over the library modules: checkpoint bundles, inference on
        // images, the training loop and the checkpoint option group.
        .target(name: "Pipeline", dependencies: [
            "Base", "Datasets", "Augment", "Eval", "Plots", "Model", "NN", "Tensor", "ToolSupport", "CMPIShim",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .executableTarget(name: "voc-annotation", dependencies: [
            "Base", "Datasets", "ToolSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/tools/voc-annotation"),
        .executableTarget(name: "demo-data", dependencies: [
            "Base", "Datasets", "ToolSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/tools/demo-data"),
        .executableTarget(name: "detr-bench", dependencies: [
            "Base", "Datasets", "Tensor", "NN", "Model", "Eval", "Plots", "Augment", "Pipeline",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/tools/detr-bench"),
        .executableTarget(name: "get-map", dependencies: [
            "Base", "Datasets", "Eval", "Plots", "Report", "Model", "NN", "Tensor", "Pipeline", "ToolSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/tools/get-map"),
        .executableTarget(name: "detr-train", dependencies: [
            "Base", "Datasets", "Augment", "Eval", "Model", "NN", "Pipeline", "ToolSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/tools/detr-train"),
        .executableTarget(name: "predict", dependencies: [
            "Base", "Datasets", "Augment", "Eval", "Plots", "Model", "NN", "Tensor", "Pipeline", "ToolSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/tools/predict"),
        // libFuzzer harness of every reader (`make fuzz`); a plain build replays inputs.
        .executableTarget(name: "detr-fuzz", dependencies: ["Datasets", "NN", "Pipeline"], path: "Sources/tools/detr-fuzz"),

        // What more than one test target needs: test paths and shared-data skips, temporary
        // folders, the tiny model configs. Only test targets depend on it.
        .target(name: "TestSupport", dependencies: ["Base", "Datasets", "Eval", "Model"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Tensor", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "AugmentTests", dependencies: ["Augment", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "EvalTests", dependencies: ["Eval", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "PlotsTests", dependencies: ["Plots", "TestSupport"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Plots", "Eval", "Datasets", "TestSupport"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Datasets", "Model", "NN", "Tensor", "Augment", "Eval", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "ToolTests", dependencies: ["voc-annotation", "demo-data", "get-map", "detr-train", "predict", "detr-fuzz", "Datasets", "Model", "Pipeline", "TestSupport"]),
    ]
)
