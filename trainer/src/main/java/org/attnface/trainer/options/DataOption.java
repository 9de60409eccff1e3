package org.attnface.trainer.options;

import java.nio.file.Path;

import picocli.CommandLine.Option;

/** {@code --data}, required: the UTKFace folder. (train declares its own, optional on --resume, with this text.) */
public final class DataOption {
    public static final String DESCRIPTION = "folder of UTKFace JPEGs (AGE_GENDER_RACE_DATETIME.jpg.chip.jpg)";

    @Option(names = "--data", required = true, description = DESCRIPTION)
    Path data;

    public Path path() { return data; }
}
