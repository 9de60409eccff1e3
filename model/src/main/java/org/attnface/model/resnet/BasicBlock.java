package org.attnface.model.resnet;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.nn.BatchNorm2d;
import org.attnface.engine.nn.Conv2d;
import org.attnface.engine.nn.Init;
import org.attnface.engine.nn.Module;
import org.attnface.engine.nn.Sequential;
import org.attnface.engine.ops.Ops;

/**
 * torchvision's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), 3x3
 * bias-free convolutions, the first with the block's stride; the shortcut is a 1x1 strided
 * projection with batch norm ("downsample.0", "downsample.1") when shape changes.
 */
public final class BasicBlock extends Module {
    private final Conv2d conv1, conv2;
    private final BatchNorm2d bn1, bn2;
    private final Conv2d downConv;     // null for the identity shortcut
    private final BatchNorm2d downBn;

    public BasicBlock(Device device, int in, int out, int stride) {
        conv1 = child("conv1", new Conv2d(device, in, out, 3, stride, 1, false).heInit());
        bn1 = child("bn1", new BatchNorm2d(device, out));
        conv2 = child("conv2", new Conv2d(device, out, out, 3, 1, 1, false).heInit());
        bn2 = child("bn2", new BatchNorm2d(device, out));
        if (stride != 1 || in != out) {
            downConv = new Conv2d(device, in, out, 1, stride, 0, false).heInit();
            downBn = new BatchNorm2d(device, out);
            child("downsample", new Sequential(downConv, downBn));
        } else {
            downConv = null;
            downBn = null;
        }
    }

    /** Sets bn2's gamma to 0: the residual branch then adds nothing and the block starts as relu(shortcut(x)). */
    public void zeroInitResidual() { Init.fill(bn2.weight, 0f); }

    @Override public Tensor forward(Tensor x) {
        Tensor y = Ops.relu(bn1.forward(conv1.forward(x)));
        y = bn2.forward(conv2.forward(y));
        Tensor shortcut = downConv == null ? x : downBn.forward(downConv.forward(x));
        return Ops.relu(Ops.add(y, shortcut));
    }
}
