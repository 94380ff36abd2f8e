package io.vidkv.cli;

import io.vidkv.LayerConfig;
import io.vidkv.Preset;
import io.vidkv.kernel.DecodeAttention;
import io.vidkv.nativelib.Dnnl;
import io.vidkv.nativelib.Fftw;
import io.vidkv.nativelib.LoadedLibrary;
import io.vidkv.nativelib.NativeLibraries;
import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** {@code vidkv info}: native libraries, vector support, and the presets with their bit budgets. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Print the native libraries loaded, the vector species, and the presets with their bit budgets.")
final class InfoCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        System.out.println("FFTW     " + Fftw.version());
        System.out.println("oneDNN   " + Dnnl.version() + ", ISA " + Dnnl.cpuIsa());
        for (LoadedLibrary lib : NativeLibraries.loaded()) {
            System.out.printf("  %-16s %-8s %s%n", lib.file(), lib.source(), lib.path());
        }
        System.out.println("kernels  " + DecodeAttention.kernelBody());
        System.out.println();
        System.out.printf("%-26s %8s %8s %4s %5s  %s%n", "preset", "nominal", "K / V", "G", "meta", "description");
        for (Preset p : Preset.values()) {
            LayerConfig c = p.layerConfig();
            System.out.printf("%-26s %8.2f %3.2f/%-4.2f %4d %5s  %s%n", p.id(), c.nominalBits(), c.keys().nominalBits(),
                    c.values().nominalBits(), c.groupSize(), c.metadata() == io.vidkv.MetadataFormat.FP16 ? "fp16" : "8-bit",
                    p.description());
        }
        System.out.println("\nEffective bits (every byte, metadata included) per preset: scripts/vidkv memory; BENCHMARKS.md.");
        return 0;
    }
}
