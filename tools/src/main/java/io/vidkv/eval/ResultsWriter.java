package io.vidkv.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * {@code results.json} (one object per preset with the stable keys {@code preset},
 * {@code effective_bits}, {@code nominal_bits}, {@code key_rel_error}, {@code value_rel_error},
 * {@code attn_rel_error}, {@code attn_kl}, {@code topk_recall}, plus totals, timings and per-layer
 * rows, and the data description), {@code results.csv} (one row per preset and layer, by the data's
 * layer number, layer {@code all} for the totals) and the console table.
 */
public final class ResultsWriter {

    private ResultsWriter() {
    }

    public static void json(Path file, String data, List<Evaluator.Result> results, List<Integer> layers) throws IOException {
        json(file, data, results, layers, null);
    }

    /**
     * {@code results.json}, with {@code protocol} (what the results depend on besides the data's
     * values: residual window, calibration groups, queries, pages; null for none) as object
     * {@code protocol}; each preset also carries its own {@code residual}, {@code calibration_groups},
     * {@code group_size}, {@code page_bytes} and {@code protected_tokens}. {@code layers} are the
     * data's layer numbers.
     */
    public static void json(Path file, String data, List<Evaluator.Result> results, List<Integer> layers,
                            java.util.Map<String, Object> protocol) throws IOException {
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = mapper.createObjectNode();
        root.put("data", data);
        ArrayNode ls = root.putArray("layers");
        layers.forEach(ls::add);
        if (protocol != null) {
            root.set("protocol", mapper.valueToTree(protocol));
        }
        ArrayNode arr = root.putArray("presets");
        for (Evaluator.Result r : results) {
            ObjectNode o = arr.addObject();
            o.put("preset", r.preset());
            o.put("data", data);
            o.put("effective_bits", r.effectiveBits());
            o.put("nominal_bits", r.nominalBits());
            o.put("total_bits", r.totalBits());
            o.put("compression_ratio", r.compressionRatio());
            o.put("model_bytes", r.modelBytes());
            o.put("key_rel_error", r.keyRelError());
            o.put("value_rel_error", r.valueRelError());
            o.put("attn_rel_error", r.attnRelError());
            o.put("attn_kl", r.attnKl());
            o.put("topk_recall", r.topkRecall());
            o.put("quantize_ns_per_token_indicative", r.quantizeNsPerToken());
            o.put("decode_step_ms_indicative", r.decodeStepMs());
            o.put("residual", r.residual());
            o.put("calibration_groups", r.calibrationGroups());
            o.put("group_size", r.groupSize());
            o.put("page_bytes", r.pageBytes());
            o.put("protected_tokens", r.protectedTokens());
            ArrayNode per = o.putArray("per_layer");
            for (Evaluator.LayerResult l : r.layers()) {
                ObjectNode lo = per.addObject();
                lo.put("layer", l.layer());
                lo.put("key_rel_error", l.keyRelError());
                lo.put("value_rel_error", l.valueRelError());
                lo.put("attn_rel_error", l.attnRelError());
                lo.put("attn_kl", l.attnKl());
                lo.put("topk_recall", l.topkRecall());
            }
        }
        mapper.writeValue(file.toFile(), root);
    }

    public static void csv(Path file, List<Evaluator.Result> results) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            w.write("preset,layer,effective_bits,nominal_bits,key_rel_error,value_rel_error,attn_rel_error,attn_kl,topk_recall\n");
            for (Evaluator.Result r : results) {
                w.write(String.format(Locale.ROOT, "%s,all,%.6f,%.4f,%.6g,%.6g,%.6g,%.6g,%.6f%n", r.preset(), r.effectiveBits(),
                        r.nominalBits(), r.keyRelError(), r.valueRelError(), r.attnRelError(), r.attnKl(), r.topkRecall()));
                for (Evaluator.LayerResult l : r.layers()) {
                    w.write(String.format(Locale.ROOT, "%s,%d,%.6f,%.4f,%.6g,%.6g,%.6g,%.6g,%.6f%n", r.preset(), l.layer(),
                            r.effectiveBits(), r.nominalBits(), l.keyRelError(), l.valueRelError(), l.attnRelError(), l.attnKl(),
                            l.topkRecall()));
                }
            }
        }
    }

    /** The console table without the data line (kept for callers that print the data themselves). */
    public static void table(PrintStream out, List<Evaluator.Result> results) {
        table(out, null, results);
    }

    /**
     * The console table, between a header that says what was measured on what and a footer that
     * says what the numbers mean: errors are relative to the original K/V, so fp16's row is the
     * floor and 1.0 would be an output as far off as the exact output is large; the "/kivi-2"
     * column puts each attention error against KIVI-2's, the common 2-bit baseline.
     */
    public static void table(PrintStream out, String data, List<Evaluator.Result> results) {
        Evaluator.Result kivi = results.stream().filter(r -> r.preset().equals("kivi-2")).findFirst().orElse(null);
        Evaluator.Result fp16 = results.stream().filter(r -> r.preset().equals("fp16")).findFirst().orElse(null);
        out.println();
        if (data != null) {
            out.println("Quantization error and attention fidelity per preset, measured on " + data);
        }
        out.printf("%-32s %6s %6s %6s %8s %9s %9s %9s %8s %9s %7s %9s %9s%n", "preset", "eff", "nom", "total", "xFP16",
                "key err", "val err", "attn err", "/kivi-2", "attn KL", "top32", "ns/tok*", "step ms*");
        for (Evaluator.Result r : results) {
            String vsKivi = kivi == null || !(kivi.attnRelError() > 0) ? "-"
                    : String.format(Locale.ROOT, "%.2f", r.attnRelError() / kivi.attnRelError());
            out.printf(Locale.ROOT, "%-32s %6.3f %6.2f %6.3f %8.2f %9.4f %9.4f %9.4f %8s %9.2e %7.3f %9.0f %9.3f%n", r.preset(),
                    r.effectiveBits(), r.nominalBits(), r.totalBits(), r.compressionRatio(), r.keyRelError(), r.valueRelError(),
                    r.attnRelError(), vsKivi, r.attnKl(), r.topkRecall(), r.quantizeNsPerToken(), r.decodeStepMs());
        }
        out.println("errors are relative to the original K/V (0 = exact): key/val err = relative Frobenius error of the dequantized");
        out.println("  keys/values; attn err = relative L2 error of the fused decode attention output vs float64 attention on the");
        out.println("  original K/V" + (fp16 != null ? String.format(Locale.ROOT, " (fp16 storage alone: %.4f, the floor)", fp16.attnRelError()) : "")
                + "; /kivi-2 = attn err / kivi-2's attn err (below 1: closer than KIVI-2)" + (kivi == null ? " (kivi-2 not run)" : ""));
        out.println("  attn KL = KL(original || quantized) of the attention distributions; top32 = share of the 32 most attended tokens kept.");
        if (data != null && data.startsWith("synthetic")) {
            out.println("  synthetic data rank presets against each other; they do not predict a model's accuracy (README, \"Evaluation\").");
        }
        out.println("eff/nom/total: bits per element (effective = blocks incl. metadata; total = + residual window and page tails,");
        out.println("  pages the smallest that hold one block); xFP16: FP16 bytes / bytes held.");
        out.println("* single-run timings, indicative only: JMH (BENCHMARKS.md) is the authority.");
    }
}
