import CKernels

/// Which multi-scale deformable attention implementation runs.
public enum DeformableAttentionBackend: Sendable {
    /// grid_sample per level, composed from the engine's differentiable ops: the official
    /// `ms_deform_attn_core_pytorch` line for line, the readable reference.
    case reference
    /// The C kernels (CKernels/deform_attn.c): one pass per query forward, one per (batch
    /// entry, head) backward, threads over those.
    case fused

    public static let `default` = DeformableAttentionBackend.fused
}

extension Tensor {
    /// Multi-scale deformable attention (Zhu et al., Deformable DETR; Mask2Former's pixel
    /// decoder), as the official `ms_deform_attn_core_pytorch`:
    /// - value [B, S, H, D]: each level's map flattened row-major, level after level
    ///   (S = sum of h_l * w_l; level l starts at `levelStartIndex[l]`);
    /// - samplingLocations [B, Q, H, L, P, 2]: (x, y) in [0, 1] of each level's map (0 and 1 are
    ///   the map's outer edges; pixel x sits at (x + 0.5) / w), outside allowed;
    /// - attentionWeights [B, Q, H, L, P] (already softmaxed over L * P).
    ///
    /// Each sample is bilinear with zeros outside the map (grid_sample, align_corners = false,
    /// on grid 2 * loc - 1). Returns [B, Q, H * D]; gradients flow to all three tensors.
    public static func msDeformAttn(value: Tensor, spatialShapes: [(height: Int, width: Int)], levelStartIndex: [Int],
                                    samplingLocations: Tensor, attentionWeights: Tensor,
                                    backend: DeformableAttentionBackend = .default) -> Tensor {
        let geo = DeformableAttentionGeometry(value: value, spatialShapes: spatialShapes, levelStartIndex: levelStartIndex,
                                              samplingLocations: samplingLocations, attentionWeights: attentionWeights)
        switch backend {
        case .reference:
            return msDeformAttnReference(value, geo, samplingLocations, attentionWeights)
        case .fused:
            return msDeformAttnFused(value, geo, samplingLocations, attentionWeights)
        }
    }

    /// The official pure-PyTorch version, op for op: a grid_sample per level of the value map
    /// [B*H, D, h_l, w_l] at grid [B*H, Q, P, 2], then the weighted sum over levels and points.
    static func msDeformAttnReference(_ value: Tensor, _ geo: DeformableAttentionGeometry, _ locations: Tensor,
                                      _ weights: Tensor) -> Tensor {
        let b = geo.batch, h = geo.heads, d = geo.channels, q = geo.queries, l = geo.levels, p = geo.points
        let perLevel = value.split(zip(geo.heights, geo.widths).map { $0 * $1 }, axis: 1)  // [B, h_l*w_l, H, D] each
        let grids = locations * 2 - 1  // [B, Q, H, L, P, 2]
        var sampled: [Tensor] = []
        for level in 0..<l {
            // [B, h_l*w_l, H, D] -> [B, H, D, h_l*w_l] -> [B*H, D, h_l, w_l]
            let map = perLevel[level].permute([0, 2, 3, 1]).reshape([b * h, d, geo.heights[level], geo.widths[level]])
            // [B, Q, H, P, 2] -> [B, H, Q, P, 2] -> [B*H, Q, P, 2]
            let grid = grids.slice(axis: 3, level..<(level + 1)).squeeze(3).permute([0, 2, 1, 3, 4]).reshape([b * h, q, p, 2])
            sampled.append(map.gridSample(grid))  // [B*H, D, Q, P]
        }
        // [B, Q, H, L, P] -> [B, H, Q, L, P] -> [B*H, 1, Q, L*P]
        let w = weights.permute([0, 2, 1, 3, 4]).reshape([b * h, 1, q, l * p])
        let stacked = Tensor.stack(sampled, axis: -2).reshape([b * h, d, q, l * p])  // [B*H, D, Q, L*P]
        let out = (stacked * w).sum(axis: -1)  // [B*H, D, Q]
        return out.reshape([b, h * d, q]).transpose(1, 2)  // [B, Q, H*D]
    }

    /// The C kernels: the forward over (batch entry, query) rows, the backward over (batch
    /// entry, head) pairs, whose slices of the value gradient are disjoint.
    static func msDeformAttnFused(_ value: Tensor, _ geo: DeformableAttentionGeometry, _ locations: Tensor,
                                  _ weights: Tensor) -> Tensor {
        let out = Tensor.empty([geo.batch, geo.queries, geo.heads * geo.channels])
        let pv = value.data, pl = locations.data, pw = weights.data, po = out.data
        geo.withC { g in
            Threads.parallelFor(geo.batch * geo.queries, costPerItem: geo.costPerQuery) { r in
                detr_msda_forward(g, pv, pl, pw, po, r.lowerBound, r.upperBound)
            }
        }
        return Tensor.record(out, "ms_deform_attn", [value, locations, weights]) { grad in
            let gv = value.requiresGrad ? Tensor.empty(value.shape) : nil
            let gl = locations.requiresGrad ? Tensor.empty(locations.shape) : nil
            let gw = weights.requiresGrad ? Tensor.empty(weights.shape) : nil
            let pg = grad.data, pgv = gv?.data, pgl = gl?.data, pgw = gw?.data
            geo.withC { g in
                Threads.parallelFor(geo.batch * geo.heads, costPerItem: geo.queries * geo.costPerQuery / geo.heads * 2) { r in
                    detr_msda_backward(g, pv, pl, pw, pg, pgv, pgl, pgw, r.lowerBound, r.upperBound)
                }
            }
            return [gv, gl, gw]
        }
    }
}

/// The sizes of a deformable attention call, checked once.
struct DeformableAttentionGeometry {
    let batch, lengthIn, heads, channels, queries, levels, points: Int
    let heights, widths, starts: [Int]

    init(value: Tensor, spatialShapes: [(height: Int, width: Int)], levelStartIndex: [Int],
         samplingLocations loc: Tensor, attentionWeights attn: Tensor) {
        precondition(value.rank == 4, "msDeformAttn: value must be [B, S, H, D], got \(value.shape)")
        precondition(loc.rank == 6 && loc.shape[5] == 2, "msDeformAttn: sampling locations must be [B, Q, H, L, P, 2], got \(loc.shape)")
        (batch, lengthIn, heads, channels) = (value.shape[0], value.shape[1], value.shape[2], value.shape[3])
        (queries, levels, points) = (loc.shape[1], loc.shape[3], loc.shape[4])
        precondition(loc.shape[0] == batch && loc.shape[2] == heads && spatialShapes.count == levels,
                     "msDeformAttn: sampling locations \(loc.shape) for value \(value.shape) and \(spatialShapes.count) levels")
        precondition(attn.shape == Array(loc.shape.dropLast()),
                     "msDeformAttn: attention weights \(attn.shape) for sampling locations \(loc.shape)")
        var start = 0
        for (l, s) in spatialShapes.enumerated() {
            precondition(s.height > 0 && s.width > 0 && levelStartIndex.count == levels && levelStartIndex[l] == start,
                         "msDeformAttn: level start indices \(levelStartIndex) for spatial shapes \(spatialShapes)")
            start += s.height * s.width
        }
        precondition(start == lengthIn, "msDeformAttn: spatial shapes \(spatialShapes) cover \(start) positions, value has \(lengthIn)")
        heights = spatialShapes.map { $0.height }
        widths = spatialShapes.map { $0.width }
        starts = levelStartIndex
    }

    /// Multiply-adds of one query (all heads): four taps of D channels per point.
    var costPerQuery: Int { heads * levels * points * 4 * channels }

    /// The C view of the geometry, valid inside `body`.
    func withC(_ body: (UnsafePointer<detr_msda_geometry>) -> Void) {
        let hs = heights.map { Int32($0) }, ws = widths.map { Int32($0) }, ss = starts.map { Int32($0) }
        hs.withUnsafeBufferPointer { ph in
            ws.withUnsafeBufferPointer { pw in
                ss.withUnsafeBufferPointer { ps in
                    var g = detr_msda_geometry(batch: batch, queries: queries, heads: heads, levels: levels, points: points,
                                               channels: channels, len_in: lengthIn,
                                               heights: ph.baseAddress, widths: pw.baseAddress, starts: ps.baseAddress)
                    withUnsafePointer(to: &g) { body($0) }
                }
            }
        }
    }
}
