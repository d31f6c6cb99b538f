import CDNNL
import Synchronization

/// oneDNN convolutions (the library PyTorch's CPU convolutions use) on NCHW tensors.
///
/// Each geometry gets a plan: the forward, backward-data and backward-weights primitives,
/// created once with `format_tag_any` so that oneDNN picks its blocked layouts, and the
/// reorders between our NCHW buffers and those layouts. Plans are cached by geometry.
/// Temporary blocked buffers come from the caching allocator.
enum DNNL {
    @inline(__always)
    static func check(_ status: dnnl_status_t, _ call: String) {
        if status != dnnl_success {
            preconditionFailure("oneDNN \(call) failed with status \(status.rawValue)")
        }
    }

    /// The CPU engine and its stream (created on first use, never destroyed).
    final class Runtime: @unchecked Sendable {
        let engine: dnnl_engine_t
        let stream: dnnl_stream_t

        init() {
            OpenMP.setThreads(Threads.count)
            var e: dnnl_engine_t? = nil
            check(dnnl_engine_create(&e, dnnl_cpu, 0), "engine_create")
            var s: dnnl_stream_t? = nil
            check(dnnl_stream_create(&s, e, dnnl_stream_default_flags.rawValue), "stream_create")
            engine = e!
            stream = s!
        }
    }

    static let runtime = Runtime()

    struct PlanKey: Hashable {
        let geo: Conv2dGeometry
        let relu: Bool
    }

    /// The plans, each with the tick of its last use.
    struct PlanCache {
        var plans: [PlanKey: (plan: ConvPlan, used: Int)] = [:]
        var tick = 0
    }

    static let plans = Mutex(PlanCache())

    /// Plans kept at most: every plan holds oneDNN primitives (their code and scratchpads), and a
    /// run over images of many sizes (predict over a folder) would otherwise keep one set per
    /// image size. 256 plans hold the convolutions of ResNet-50 at a dozen input sizes; the least
    /// recently used plan goes first.
    static let planCapacity = 256

    /// The cached plan of a geometry (`relu`: a ReLU fused into the forward primitive).
    static func plan(_ geo: Conv2dGeometry, relu: Bool = false) -> ConvPlan {
        let key = PlanKey(geo: geo, relu: relu)
        let found: ConvPlan? = plans.withLock { c in
            c.tick += 1
            guard let hit = c.plans[key] else { return nil }
            c.plans[key] = (hit.plan, c.tick)
            return hit.plan
        }
        if let found { return found }
        let created = ConvPlan(geo, relu: relu)
        // A plan evicted here is destroyed when its last user (a convolution running on another
        // thread) lets it go.
        return plans.withLock { c in
            c.tick += 1
            if let existing = c.plans[key] { return existing.plan }
            if c.plans.count >= planCapacity, let oldest = c.plans.min(by: { $0.value.used < $1.value.used })?.key {
                c.plans[oldest] = nil
            }
            c.plans[key] = (created, c.tick)
            return created
        }
    }

    static func memoryDesc(_ dims: [Int], _ tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let d = dims.map { Int64($0) }
        check(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, dnnl_f32, tag), "memory_desc_init_by_tag")
        return md
    }
}

/// One argument of a primitive: where our NCHW data lives and what layout the primitive wants.
struct DNNLArgument {
    let arg: Int32
    let user: dnnl_memory_desc_t
    let wanted: dnnl_memory_desc_t
    let isOutput: Bool
    /// Reorder user -> wanted (inputs) or wanted -> user (outputs); nil when the layouts match.
    let reorder: dnnl_primitive_t?

    init(arg: Int32, user: dnnl_memory_desc_t, pd: dnnl_primitive_desc_t, query: dnnl_query_t, index: Int32 = 0, isOutput: Bool) {
        self.arg = arg
        self.user = user
        self.isOutput = isOutput
        var u = user
        let w = dnnl_primitive_desc_query_md(pd, query, index)!.pointee
        wanted = w
        var wv = w
        if dnnl_memory_desc_equal(&u, &wv) != 0 {
            reorder = nil
        } else {
            var rpd: dnnl_primitive_desc_t? = nil
            let engine = DNNL.runtime.engine
            if isOutput {
                DNNL.check(dnnl_reorder_primitive_desc_create(&rpd, &wv, engine, &u, engine, nil), "reorder_primitive_desc_create")
            } else {
                DNNL.check(dnnl_reorder_primitive_desc_create(&rpd, &u, engine, &wv, engine, nil), "reorder_primitive_desc_create")
            }
            var prim: dnnl_primitive_t? = nil
            DNNL.check(dnnl_primitive_create(&prim, rpd), "primitive_create(reorder)")
            dnnl_primitive_desc_destroy(rpd)
            reorder = prim
        }
    }
}

/// A primitive with its arguments, executed on NCHW buffers.
final class DNNLStep: @unchecked Sendable {
    let pd: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t
    let arguments: [DNNLArgument]
    let lock = Mutex(())

    init(pd: dnnl_primitive_desc_t, arguments: [DNNLArgument]) {
        self.pd = pd
        self.arguments = arguments
        var prim: dnnl_primitive_t? = nil
        DNNL.check(dnnl_primitive_create(&prim, pd), "primitive_create")
        primitive = prim!
    }

    /// Destroys the primitive, its reorders and its descriptor (the forward step's descriptor
    /// is also its plan's `forwardPD`, which the plan does not destroy).
    deinit {
        dnnl_primitive_destroy(primitive)
        for a in arguments { if let r = a.reorder { dnnl_primitive_destroy(r) } }
        dnnl_primitive_desc_destroy(pd)
    }

    /// Runs with `buffers[i]` holding argument i in our layout. Outputs are overwritten.
    func run(_ buffers: [UnsafeMutablePointer<Float>]) {
        // One execution at a time per primitive: oneDNN's library-managed scratchpad is
        // shared by the primitive's executions.
        lock.withLock { _ in runLocked(buffers) }
    }

    private func runLocked(_ buffers: [UnsafeMutablePointer<Float>]) {
        let rt = DNNL.runtime
        var mems: [dnnl_memory_t?] = []
        var temps: [(UnsafeMutableRawPointer, Int)] = []
        var args: [dnnl_exec_arg_t] = []
        var outputs: [(reorder: dnnl_primitive_t, from: dnnl_memory_t, to: dnnl_memory_t)] = []
        for (a, buf) in zip(arguments, buffers) {
            var user = a.user
            var um: dnnl_memory_t? = nil
            DNNL.check(dnnl_memory_create(&um, &user, rt.engine, buf), "memory_create")
            mems.append(um)
            guard let reorder = a.reorder else {
                args.append(dnnl_exec_arg_t(arg: a.arg, memory: um))
                continue
            }
            var wanted = a.wanted
            let size = dnnl_memory_desc_get_size(&wanted)
            let tmp = Allocator.allocate(bytes: size)
            temps.append((tmp, size))
            var wm: dnnl_memory_t? = nil
            DNNL.check(dnnl_memory_create(&wm, &wanted, rt.engine, tmp), "memory_create")
            mems.append(wm)
            if a.isOutput {
                outputs.append((reorder, wm!, um!))
            } else {
                var rargs = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: um), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: wm)]
                DNNL.check(dnnl_primitive_execute(reorder, rt.stream, 2, &rargs), "execute(reorder)")
            }
            args.append(dnnl_exec_arg_t(arg: a.arg, memory: wm))
        }
        DNNL.check(dnnl_primitive_execute(primitive, rt.stream, Int32(args.count), &args), "execute")
        for o in outputs {
            var rargs = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: o.from), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: o.to)]
            DNNL.check(dnnl_primitive_execute(o.reorder, rt.stream, 2, &rargs), "execute(reorder)")
        }
        DNNL.check(dnnl_stream_wait(rt.stream), "stream_wait")
        for m in mems { dnnl_memory_destroy(m) }
        for (p, size) in temps { Allocator.deallocate(p, bytes: size) }
    }
}

/// Forward, backward-data and backward-weights of one convolution geometry.
final class ConvPlan: @unchecked Sendable {
    let geo: Conv2dGeometry
    let forward: DNNLStep
    private let forwardPD: dnnl_primitive_desc_t
    private var cachedBackwardData: DNNLStep?
    private var cachedBackwardWeights: DNNLStep?
    private let lock = Mutex(())
    private let srcMD, weightsMD, biasMD, dstMD: dnnl_memory_desc_t
    private let anySrc, anyWeights, anyBias, anyDst: dnnl_memory_desc_t
    private let strides, dilates, padL, padR: [Int64]

    init(_ geo: Conv2dGeometry, relu: Bool) {
        self.geo = geo
        let src = [geo.batch, geo.inChannels, geo.height, geo.width]
        let wdims = geo.groups == 1
            ? [geo.outChannels, geo.inChannels, geo.kernelH, geo.kernelW]
            : [geo.groups, geo.outChannels / geo.groups, geo.inChannels / geo.groups, geo.kernelH, geo.kernelW]
        let dst = [geo.batch, geo.outChannels, geo.outHeight, geo.outWidth]
        srcMD = DNNL.memoryDesc(src, dnnl_nchw)
        weightsMD = DNNL.memoryDesc(wdims, geo.groups == 1 ? dnnl_oihw : dnnl_goihw)
        biasMD = DNNL.memoryDesc([geo.outChannels], dnnl_x)
        dstMD = DNNL.memoryDesc(dst, dnnl_nchw)
        anySrc = DNNL.memoryDesc(src, dnnl_format_tag_any)
        anyWeights = DNNL.memoryDesc(wdims, dnnl_format_tag_any)
        anyBias = DNNL.memoryDesc([geo.outChannels], dnnl_format_tag_any)
        anyDst = DNNL.memoryDesc(dst, dnnl_format_tag_any)
        strides = [Int64(geo.strideH), Int64(geo.strideW)]
        dilates = [Int64(geo.dilationH - 1), Int64(geo.dilationW - 1)]
        padL = [Int64(geo.padH), Int64(geo.padW)]
        // Right padding so that the output size matches PyTorch's floor rule.
        let rH = (geo.outHeight - 1) * geo.strideH + (geo.kernelH - 1) * geo.dilationH + 1 - geo.height - geo.padH
        let rW = (geo.outWidth - 1) * geo.strideW + (geo.kernelW - 1) * geo.dilationW + 1 - geo.width - geo.padW
        padR = [Int64(rH), Int64(rW)]

        var desc = dnnl_convolution_desc_t()
        var s = anySrc, w = anyWeights, b = anyBias, d = anyDst
        if ConvDNNL.plainForward(geo) {
            s = srcMD
            d = dstMD
        }
        DNNL.check(dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_convolution_direct,
                                                               &s, &w, &b, &d, strides, dilates, padL, padR), "convolution_forward_desc_init")
        var pd: dnnl_primitive_desc_t? = nil
        // A fused ReLU is a post-op of the forward primitive.
        var attr: dnnl_primitive_attr_t? = nil
        if relu {
            var ops: dnnl_post_ops_t? = nil
            DNNL.check(dnnl_post_ops_create(&ops), "post_ops_create")
            DNNL.check(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_relu, 0, 0), "post_ops_append_eltwise")
            DNNL.check(dnnl_primitive_attr_create(&attr), "primitive_attr_create")
            DNNL.check(dnnl_primitive_attr_set_post_ops(attr, ops), "primitive_attr_set_post_ops")
            dnnl_post_ops_destroy(ops)
        }
        DNNL.check(dnnl_primitive_desc_create(&pd, &desc, attr, DNNL.runtime.engine, nil), "primitive_desc_create(forward)")
        if let attr { dnnl_primitive_attr_destroy(attr) }
        forwardPD = pd!
        forward = DNNLStep(pd: pd!, arguments: [
            DNNLArgument(arg: DNNL_ARG_SRC, user: srcMD, pd: pd!, query: dnnl_query_src_md, isOutput: false),
            DNNLArgument(arg: DNNL_ARG_WEIGHTS, user: weightsMD, pd: pd!, query: dnnl_query_weights_md, isOutput: false),
            DNNLArgument(arg: DNNL_ARG_BIAS, user: biasMD, pd: pd!, query: dnnl_query_weights_md, index: 1, isOutput: false),
            DNNLArgument(arg: DNNL_ARG_DST, user: dstMD, pd: pd!, query: dnnl_query_dst_md, isOutput: true),
        ])
    }

    /// The backward steps' descriptors were created with the forward descriptor as their hint:
    /// they go first.
    deinit {
        cachedBackwardData = nil
        cachedBackwardWeights = nil
    }

    var backwardData: DNNLStep {
        lock.withLock { _ in
            if let s = cachedBackwardData { return s }
            var desc = dnnl_convolution_desc_t()
            var s = anySrc, w = anyWeights, d = anyDst
            DNNL.check(dnnl_dilated_convolution_backward_data_desc_init(&desc, dnnl_convolution_direct, &s, &w, &d,
                                                                         strides, dilates, padL, padR), "convolution_backward_data_desc_init")
            var pd: dnnl_primitive_desc_t? = nil
            DNNL.check(dnnl_primitive_desc_create(&pd, &desc, nil, DNNL.runtime.engine, forwardPD), "primitive_desc_create(backward data)")
            let step = DNNLStep(pd: pd!, arguments: [
                DNNLArgument(arg: DNNL_ARG_DIFF_DST, user: dstMD, pd: pd!, query: dnnl_query_diff_dst_md, isOutput: false),
                DNNLArgument(arg: DNNL_ARG_WEIGHTS, user: weightsMD, pd: pd!, query: dnnl_query_weights_md, isOutput: false),
                DNNLArgument(arg: DNNL_ARG_DIFF_SRC, user: srcMD, pd: pd!, query: dnnl_query_diff_src_md, isOutput: true),
            ])
            cachedBackwardData = step
            return step
        }
    }

    var backwardWeights: DNNLStep {
        lock.withLock { _ in
            if let s = cachedBackwardWeights { return s }
            var desc = dnnl_convolution_desc_t()
            var s = anySrc, w = anyWeights, b = anyBias, d = anyDst
            DNNL.check(dnnl_dilated_convolution_backward_weights_desc_init(&desc, dnnl_convolution_direct, &s, &w, &b, &d,
                                                                            strides, dilates, padL, padR), "convolution_backward_weights_desc_init")
            var pd: dnnl_primitive_desc_t? = nil
            DNNL.check(dnnl_primitive_desc_create(&pd, &desc, nil, DNNL.runtime.engine, forwardPD), "primitive_desc_create(backward weights)")
            let step = DNNLStep(pd: pd!, arguments: [
                DNNLArgument(arg: DNNL_ARG_SRC, user: srcMD, pd: pd!, query: dnnl_query_src_md, isOutput: false),
                DNNLArgument(arg: DNNL_ARG_DIFF_DST, user: dstMD, pd: pd!, query: dnnl_query_diff_dst_md, isOutput: false),
                DNNLArgument(arg: DNNL_ARG_DIFF_WEIGHTS, user: weightsMD, pd: pd!, query: dnnl_query_diff_weights_md, isOutput: true),
                DNNLArgument(arg: DNNL_ARG_DIFF_BIAS, user: biasMD, pd: pd!, query: dnnl_query_diff_weights_md, index: 1, isOutput: true),
            ])
            cachedBackwardWeights = step
            return step
        }
    }
}

enum ConvDNNL {
    // Forward primitives are always forward_training: forward_inference measured slower on
    // every ResNet-50 shape here (it picks NHWC kernels with costlier reorders from NCHW).
    /// Whether the forward primitive works on our NCHW buffers directly (oneDNN then picks its
    /// GEMM-based kernels) instead of its blocked layouts. Measured on ResNet-50 shapes (2 cores,
    /// ms, blocked / plain): 1x1 1024->256 @50x67 11.2 / 5.3; 3x3 s2 512->512 16.4 / 11.4;
    /// 3x3 s1 256->256 10.0 / 12.0; 3x3 s1 64->64 @200x267 11.0 / 15.7; 7x7 s2 stem 12.9 / 21.3.
    static func plainForward(_ geo: Conv2dGeometry) -> Bool {
        if geo.kernelH == 1 && geo.kernelW == 1 { return true }
        return (geo.strideH > 1 || geo.strideW > 1) && geo.inChannels >= 64
    }

    static func forward(_ x: Tensor, _ weight: Tensor, _ bias: Tensor?, _ geo: Conv2dGeometry, relu: Bool) -> Tensor {
        let out = Tensor.empty([geo.batch, geo.outChannels, geo.outHeight, geo.outWidth])
        let b = bias ?? Tensor.zeros([geo.outChannels])
        DNNL.plan(geo, relu: relu).forward.run([x.data, weight.data, b.data, out.data])
        return out
    }

    static func backwardData(_ g: Tensor, _ weight: Tensor, _ geo: Conv2dGeometry) -> Tensor {
        let dx = Tensor.empty([geo.batch, geo.inChannels, geo.height, geo.width])
        DNNL.plan(geo).backwardData.run([g.data, weight.data, dx.data])
        return dx
    }

    /// Weight and bias gradients in one primitive.
    static func backwardWeights(_ g: Tensor, _ x: Tensor, _ geo: Conv2dGeometry) -> (Tensor, Tensor) {
        let dw = Tensor.empty([geo.outChannels, geo.inChannels / geo.groups, geo.kernelH, geo.kernelW])
        let db = Tensor.empty([geo.outChannels])
        DNNL.plan(geo).backwardWeights.run([x.data, g.data, dw.data, db.data])
        return (dw, db)
    }
}
