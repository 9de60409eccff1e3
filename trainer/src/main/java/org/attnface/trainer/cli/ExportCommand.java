package org.attnface.trainer.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.attnface.engine.Device;
import org.attnface.model.onnx.OnnxExport;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Writes a checkpoint as an ONNX model (opset " + OnnxExport.OPSET + ") for ONNX Runtime and others.",
                "Input: images [n, 3, S, S], RGB / 255 normalised with ImageNet's mean and std;",
                "outputs: gender_probs [n, 2] and age_probs [n, B], the probabilities of predict.",
                "The file's metadata holds the model configuration."})
public final class ExportCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "CHECKPOINT", description = "a .safetensors checkpoint written by train")
    Path checkpoint;

    @Option(names = "--onnx", required = true, description = "export as ONNX (the one format so far)")
    boolean onnx;

    @Option(names = "--out", description = "the .onnx file to write (default: the checkpoint's path with .onnx)")
    Path out;

    @Option(names = "--attn-weight", defaultValue = "0.5",
            description = "ensemble only: the attn network's weight in the mixed probabilities (as predict --attn-weight; default: ${DEFAULT-VALUE})")
    float attnWeight;

    @Override public Integer call() throws Exception {
        Inference inf = Inference.load(checkpoint, Device.CPU);
        inf.setAttnWeight(attnWeight);
        Path target = out != null ? out : defaultOut(checkpoint);
        if (Files.isDirectory(target)) throw new IllegalArgumentException("--out " + target + " is a folder; give the .onnx file to write");
        String version = ExportCommand.class.getPackage().getImplementationVersion();
        OnnxExport.write(inf.model(), target, version == null ? "dev" : version);
        var c = inf.config();
        System.out.printf(Locale.ROOT, "wrote %s (%s, %dx%d, %d age buckets, %.1f MiB): inputs images [n, 3, %d, %d]; outputs gender_probs, age_probs%n",
                target, c.arch(), c.imageSize(), c.imageSize(), c.buckets().count(), Files.size(target) / 1048576.0, c.imageSize(), c.imageSize());
        return 0;
    }

    static Path defaultOut(Path checkpoint) {
        String name = checkpoint.getFileName().toString();
        String stem = name.endsWith(".safetensors") ? name.substring(0, name.length() - ".safetensors".length()) : name;
        return checkpoint.resolveSibling(stem + ".onnx");
    }
}
