/// One recorded op of the autograd graph: its inputs and a closure that maps the gradient of
/// its output to the gradients of its inputs (nil for inputs that need none).
final class Node {
    let name: String
    var inputs: [Tensor]
    var backward: ((Tensor) -> [Tensor?])?

    init(name: String, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.name = name
        self.inputs = inputs
        self.backward = backward
    }

    /// Drops the saved tensors once the node's backward has run.
    func release() {
        inputs = []
        backward = nil
    }
}

/// Gradient recording: on by default, off inside `withNoGrad` (a task-local, so concurrent
/// inference and training in different tasks do not interfere).
public enum Autograd {
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording ops (inference, optimizer updates).
public func withNoGrad<T>(_ body: () throws -> T) rethrows -> T {
    try Autograd.$isEnabled.withValue(false, operation: body)
}

extension Tensor {
    /// Makes `output` a node of the graph when any input requires gradients.
    @inline(__always)
    static func record(_ output: Tensor, _ name: String, _ inputs: [Tensor], _ backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard Autograd.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return output }
        output.requiresGrad = true
        output.node = Node(name: name, inputs: inputs, backward: backward)
        return output
    }

    /// Whether this tensor is an interior node (made by an op).
    public var isLeaf: Bool { node == nil }

    /// The name of the op that produced this tensor, if any.
    public var opName: String? { node?.name }

    /// Reverse-mode differentiation from this tensor. `gradient` defaults to ones (a scalar
    /// loss). Leaves with `requiresGrad` accumulate into `grad`; the graph's saved tensors are
    /// released afterwards unless `retainGraph`.
    public func backward(_ gradient: Tensor? = nil, retainGraph: Bool = false) {
        precondition(requiresGrad, "backward: tensor does not require grad")
        let seed = gradient ?? Tensor.ones(shape)
        precondition(seed.shape == shape, "backward: gradient shape \(seed.shape) for tensor \(shape)")

        // Reversed depth-first topological order (iterative, graphs can be deep).
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded {
                order.append(t)
                continue
            }
            let id = ObjectIdentifier(t)
            if visited.contains(id) { continue }
            visited.insert(id)
            stack.append((t, true))
            if let node = t.node {
                for input in node.inputs where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                    stack.append((input, false))
                }
            }
        }

        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed]
        withNoGrad {
            for t in order.reversed() {
                let id = ObjectIdentifier(t)
                guard let g = grads.removeValue(forKey: id) else { continue }
                guard let node = t.node else {
                    if t.requiresGrad { t.grad = t.grad.map { $0 + g } ?? g.detach() }
                    continue
                }
                guard let backward = node.backward else {
                    preconditionFailure("backward through '\(node.name)' a second time: its saved tensors were released (use retainGraph)")
                }
                let inputGrads = backward(g)
                precondition(inputGrads.count == node.inputs.count, "'\(node.name)' returned \(inputGrads.count) gradients for \(node.inputs.count) inputs")
                for (input, ig) in zip(node.inputs, inputGrads) {
                    guard let ig, input.requiresGrad else { continue }
                    precondition(ig.shape == input.shape,
                                 "gradient of '\(node.name)' has shape \(ig.shape) for an input of shape \(input.shape)")
                    let iid = ObjectIdentifier(input)
                    if let existing = grads[iid] { grads[iid] = existing + ig } else { grads[iid] = ig }
                }
                if !retainGraph { node.release() }
            }
        }
        if !retainGraph {
            for t in order where t.node != nil { t.node = nil }
        }
    }

    /// Sums a broadcast gradient back to `shape` (the one place broadcasting is undone).
    func unbroadcast(to target: [Int]) -> Tensor {
        if shape == target { return self }
        var g = self
        // Leading dimensions that the target does not have.
        while g.rank > target.count { g = g.sum(axis: 0) }
        for (i, n) in target.enumerated() where n == 1 && g.shape[i] != 1 {
            g = g.sum(axis: i, keepDims: true)
        }
        precondition(g.shape == target, "unbroadcast: cannot reduce \(shape) to \(target)")
        return g
    }
}
