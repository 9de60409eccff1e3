package org.attnface.engine;

import java.util.Arrays;
import java.util.List;

import org.attnface.engine.backend.Backend;
import org.attnface.engine.backend.Storage;
import org.attnface.engine.backend.View;

/**
 * An n-dimensional float32 array: a shape, and a contiguous row-major view (offset) onto a
 * backend's storage. Tensors made by differentiable ops carry a {@link GradFn}; leaves that
 * require a gradient (parameters) accumulate one in {@link #grad()}.
 *
 * <p>Memory: inside a {@link TensorScope} every new tensor is returned to its backend's
 * cache when the scope closes, so a training step reuses the same buffers every time and
 * allocates nothing new after the first step. Outside any scope tensors are ordinary
 * garbage-collected objects.
 */
public final class Tensor implements View {
    private final int[] shape;
    private final long numel;
    /** Kept here, not asked of the storage: backends know nothing of devices (Backends maps one to the other). */
    private Device device;
    private Storage storage;
    private long offset;

    private boolean requiresGrad;
    private boolean retainGrad;
    private Tensor grad;
    private GradFn gradFn;
    private String name;

    private Tensor(int[] shape, Device device, Storage storage, long offset) {
        this.shape = shape;
        this.numel = numel(shape);
        this.device = device;
        this.storage = storage;
        this.offset = offset;
    }

    // ---- creation --------------------------------------------------------------------------

    /** An uninitialised tensor on the device; owned by the innermost open {@link TensorScope}, if any. */
    public static Tensor empty(Device device, int... shape) {
        int[] s = checkShape(shape);
        Tensor t = new Tensor(s, device, Backends.of(device).allocate(Math.max(1, numel(s))), 0);
        TensorScope.register(t);
        return t;
    }

    /** An uninitialised tensor that outlives every scope: parameters, gradients, optimiser state, running stats. */
    public static Tensor emptyPersistent(Device device, int... shape) {
        int[] s = checkShape(shape);
        return new Tensor(s, device, Backends.of(device).allocate(Math.max(1, numel(s))), 0);
    }

    /** A new uninitialised tensor of the same shape and device as {@code like}. */
    public static Tensor emptyLike(Tensor like) {
        return empty(like.device(), like.shape);
    }

    public static Tensor zeros(Device device, int... shape) {
        Tensor t = empty(device, shape);
        t.backend().fill(t, 0f);
        return t;
    }

    public static Tensor full(Device device, float value, int... shape) {
        Tensor t = empty(device, shape);
        t.backend().fill(t, value);
        return t;
    }

    /** Copies {@code data} (row-major) into a new tensor on the device. */
    public static Tensor of(Device device, float[] data, int... shape) {
        int[] s = checkShape(shape);
        if (data.length != numel(s))
            throw new IllegalArgumentException("Tensor.of: " + data.length + " values do not fill shape " + Arrays.toString(s));
        Tensor t = empty(device, s);
        t.backend().upload(data, 0, t);
        return t;
    }

    /** A CPU tensor holding a copy of {@code data}. */
    public static Tensor of(float[] data, int... shape) {
        return of(Device.CPU, data, shape);
    }

    /** A one-element tensor. */
    public static Tensor scalar(Device device, float value) {
        return full(device, value, 1);
    }

    // ---- shape and storage ---------------------------------------------------------------

    @Override public int[] shape() { return shape.clone(); }

    @Override public int rank() { return shape.length; }

    /** Size of dimension {@code i}; negative indices count from the end. */
    @Override public int dim(int i) { return shape[i < 0 ? shape.length + i : i]; }

    @Override public long numel() { return numel; }

    /** numel as an int, for kernels that index with int; fails loudly beyond 2^31 elements. */
    @Override public int size() {
        if (numel > Integer.MAX_VALUE) throw new IllegalStateException("tensor " + this + " has more than 2^31 elements");
        return (int) numel;
    }

    public Device device() {
        storage();  // a tensor of a closed scope fails here, with the message below
        return device;
    }

    /** The backend that runs ops on this tensor (the profiling wrapper when profiling is on). */
    public Backend backend() { return Backends.of(device()); }

    /** This tensor's storage; fails with a clear message when its scope has closed. */
    @Override public Storage storage() {
        if (storage == null || storage.released())
            throw new IllegalStateException("tensor " + describe() + " was used after its TensorScope closed"
                    + " (read values inside the scope, or create the tensor with emptyPersistent)");
        return storage;
    }

    /** Offset in floats of element 0 within the storage. */
    @Override public long offset() { return offset; }

    /** Offset as an int index into a CPU array. */
    @Override public int intOffset() { return (int) offset; }

    @Override public boolean sameShape(View o) { return o instanceof Tensor t ? Arrays.equals(shape, t.shape) : Arrays.equals(shape, o.shape()); }

    /** A view with another shape over the same elements (free: no copy, no gradient link). */
    public Tensor view(int... newShape) {
        int[] s = resolveShape(newShape);
        Tensor v = new Tensor(s, device, storage(), offset);
        return v;
    }

    /** A differentiable reshape: a view whose gradient is the output gradient reshaped back. */
    public Tensor reshape(int... newShape) {
        Tensor out = view(newShape);
        Autograd.record("reshape", out, g -> this.accumulateGrad(g.view(shape)), this);
        return out;
    }

    /** [n, ...] -> [n, rest]: the flatten before a linear layer. */
    public Tensor flatten() {
        return reshape(shape[0], (int) (numel / shape[0]));
    }

    /** Rows [from, to) of dimension 0 as a view (for batches; not differentiable). */
    public Tensor slice(int from, int to) {
        if (from < 0 || to > shape[0] || from >= to)
            throw new IndexOutOfBoundsException("slice [" + from + ", " + to + ") of " + describe());
        int[] s = shape.clone();
        s[0] = to - from;
        return new Tensor(s, device, storage(), offset + (numel / shape[0]) * from);
    }

    // ---- host access ---------------------------------------------------------------------

    /** Copies the values to a new host array (waits for the device). */
    public float[] toArray() {
        float[] out = new float[size()];
        backend().download(this, out, 0);
        return out;
    }

    /** The single value of a one-element tensor (waits for the device). */
    public float item() {
        if (numel != 1) throw new IllegalStateException("item() needs one element, tensor is " + describe());
        return toArray()[0];
    }

    /** Overwrites the values from a host array of the same length. */
    public void copyFrom(float[] data) {
        if (data.length != numel)
            throw new IllegalArgumentException("copyFrom: " + data.length + " values for tensor " + describe());
        backend().upload(data, 0, this);
    }

    /** A copy on another device (this tensor itself when already there); not differentiable. */
    public Tensor to(Device device) {
        if (device == device()) return this;
        Tensor t = empty(device, shape);
        copyAcross(this, t);
        return t;
    }

    /**
     * Moves this tensor's values to another device in place, keeping its identity (for
     * parameters and buffers held by modules). The gradient is dropped.
     */
    public void moveTo(Device target) {
        if (target == device()) return;
        Tensor t = emptyPersistent(target, shape);
        copyAcross(this, t);
        this.device = target;
        this.storage = t.storage;
        this.offset = 0;
        this.grad = null;
    }

    /** Through a host array, whichever way: a device-to-device copy across backends is not worth a primitive. */
    private static void copyAcross(Tensor src, Tensor dst) {
        dst.backend().upload(src.toArray(), 0, dst);
    }

    /**
     * Packs tensors (all on one device) into one contiguous buffer and points each at its
     * slice, and does the same for their gradients. Optimisers then update every parameter
     * in one pass (one kernel launch on the GPU). Returns the flat values and gradients.
     */
    public static Tensor[] pack(List<Tensor> tensors) {
        if (tensors.isEmpty()) throw new IllegalArgumentException("pack: no tensors");
        Device device = tensors.get(0).device();
        long total = 0;
        for (Tensor t : tensors) {
            if (t.device() != device)
                throw new IllegalArgumentException("pack: " + t.describe() + " is on " + t.device() + ", others on " + device);
            total += t.numel;
        }
        if (total > Integer.MAX_VALUE) throw new IllegalArgumentException("pack: " + total + " elements exceed 2^31");
        Tensor values = emptyPersistent(device, (int) total);
        Tensor grads = emptyPersistent(device, (int) total);
        grads.backend().fill(grads, 0f);
        long at = 0;
        for (Tensor t : tensors) {
            Tensor dst = new Tensor(t.shape, device, values.storage, at);
            t.backend().copy(t, dst);
            t.storage = values.storage;
            t.offset = at;
            t.grad = new Tensor(t.shape, device, grads.storage, at);
            at += t.numel;
        }
        return new Tensor[] {values, grads};
    }

    // ---- autograd --------------------------------------------------------------------------

    public boolean requiresGrad() { return requiresGrad; }

    /** Marks a leaf as needing a gradient (parameters, or inputs of a gradient check). */
    public Tensor requiresGrad(boolean b) {
        if (gradFn != null && !b) throw new IllegalStateException("cannot detach an op output in place: " + describe());
        this.requiresGrad = b;
        return this;
    }

    /** Keeps the gradient of this intermediate tensor after backward (Grad-CAM reads activations' gradients). */
    public Tensor retainGrad() {
        this.retainGrad = true;
        return this;
    }

    public boolean retainsGrad() { return retainGrad || gradFn == null; }

    public Tensor grad() { return grad; }

    /**
     * A leaf's gradient buffer (a parameter's slice of the optimiser's flat buffer; created
     * zeroed on first use otherwise), for ops that add their gradient into it directly (GEMM or
     * cuDNN with beta = 1); null for an op's output, which takes {@link #accumulateGrad}.
     */
    public Tensor leafGrad() {
        if (gradFn != null) return null;
        if (grad == null) {
            grad = emptyPersistent(device(), shape);
            grad.backend().fill(grad, 0f);
        }
        return grad;
    }

    public GradFn gradFn() { return gradFn; }

    public boolean isLeaf() { return gradFn == null; }

    /** Fills the gradient with zeros in place, keeping its buffer (after {@link #pack}, a slice of the flat gradient); does nothing when there is no gradient yet. */
    public void zeroGrad() {
        if (grad != null) grad.backend().fill(grad, 0f);
    }

    /** Drops the gradient reference (intermediate tensors after backward). */
    void clearGrad() { grad = null; }

    void setGradFn(GradFn fn) {
        this.gradFn = fn;
        this.requiresGrad = true;
    }

    /**
     * Adds {@code g} into this tensor's gradient. A leaf's gradient lives in a persistent buffer
     * (allocated on first use); an intermediate tensor takes {@code g} itself the first time.
     */
    public void accumulateGrad(Tensor g) {
        if (g.numel != numel)
            throw new IllegalStateException("gradient " + Arrays.toString(g.shape) + " does not match tensor " + describe());
        Tensor gv = Arrays.equals(g.shape, shape) ? g : g.view(shape);
        if (gradFn == null) {
            if (grad == null) {
                grad = emptyPersistent(device(), shape);
                grad.backend().copy(gv, grad);
            } else {
                grad.backend().axpy(1f, gv, grad);
            }
        } else if (grad == null) {
            grad = gv;
        } else {
            Tensor sum = emptyLike(this);
            backend().binary(org.attnface.engine.backend.BinaryOp.ADD, grad, gv, sum);
            grad = sum;
        }
    }

    /** Backpropagates from this one-element tensor (a loss). */
    public void backward() {
        Autograd.backward(this);
    }

    // ---- names and messages ------------------------------------------------------------------

    /** A name for messages (parameters get theirs from their module, e.g. "layer1.0.conv1.weight"). */
    public Tensor name(String n) {
        this.name = n;
        return this;
    }

    public String name() { return name; }

    /** "conv2d [64, 8, 62, 62] cpu" or "layer1.0.conv1.weight [64, 64, 3, 3] cuda". */
    @Override public String describe() {
        String what = name != null ? name : gradFn != null ? gradFn.op() : "tensor";
        String dev = device.toString();
        return what + " " + Arrays.toString(shape) + " " + dev;
    }

    @Override public String toString() { return "Tensor(" + describe() + ")"; }

    /** Releases this tensor's storage now (called by TensorScope). */
    void release() {
        if (storage != null && !storage.released()) storage.backend().release(storage);
    }

    // ---- shape helpers --------------------------------------------------------------------

    static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    private static int[] checkShape(int[] shape) {
        for (int d : shape)
            if (d <= 0) throw new IllegalArgumentException("invalid tensor shape " + Arrays.toString(shape) + ": sizes must be positive");
        return shape.clone();
    }

    private int[] resolveShape(int[] newShape) {
        int[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException("view " + Arrays.toString(newShape) + ": only one -1 allowed");
                infer = i;
            } else if (s[i] <= 0) {
                throw new IllegalArgumentException("view " + Arrays.toString(newShape) + " of " + describe() + ": sizes must be positive");
            } else {
                known *= s[i];
            }
        }
        if (infer >= 0) {
            if (numel % known != 0) throw new IllegalArgumentException("cannot view " + describe() + " as " + Arrays.toString(newShape));
            s[infer] = (int) (numel / known);
        }
        if (numel(s) != numel) throw new IllegalArgumentException("cannot view " + describe() + " as " + Arrays.toString(newShape)
                + ": " + numel + " elements vs " + numel(s));
        return s;
    }
}
