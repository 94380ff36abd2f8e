package io.vidkv.replay;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Writes a soak run as soak.json, soak-samples.csv and soak.png (memory over time, one plot per
 * source with its own scale; NMT's JVM-wide total is in the CSV only: its ~600 MiB of code cache
 * and metaspace say nothing about vidkv).
 */
public final class SoakReportWriter {

    private SoakReportWriter() {
    }

    public static void write(Path dir, SoakDriver.Report report) throws IOException {
        Files.createDirectories(dir);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(dir.resolve("soak.json").toFile(), report);
        try (PrintStream csv = new PrintStream(Files.newOutputStream(dir.resolve("soak-samples.csv")), false, "UTF-8")) {
            csv.println("phase,step,elapsed_ms,retained_tokens,pool_pages_in_use,pool_allocated_pages,pool_native_bytes,pool_window_bytes,"
                    + "nmt_total_committed,nmt_other_committed,native_outside_pool,heap_used,heap_allocated_by_driver");
            for (SoakDriver.Sample s : report.samples()) {
                csv.printf(Locale.ROOT, "%s,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d%n", s.phase(), s.step(), s.elapsedMillis(),
                        s.retainedTokens(), s.poolPagesInUse(), s.poolAllocatedPages(), s.poolNativeBytes(), s.poolWindowBytes(), s.nmtTotalCommitted(),
                        s.nmtOtherCommitted(), s.nativeOutsidePool(), s.heapUsed(), s.heapAllocatedByDriver());
            }
        }
        chart(dir.resolve("soak.png"), report);
    }

    /**
     * Three stacked plots on one time axis, each with its own MiB scale: the pool's pages (about
     * 2 MiB in the CI soak), native memory outside the pool (NMT, when on) and the heap (hundreds of
     * MiB). On one shared axis the heap flattened the pool lines the checks are about. Dashed lines
     * mark where the checks start (the end of each phase's warm-up).
     */
    private static void chart(Path file, SoakDriver.Report report) throws IOException {
        List<SoakDriver.Sample> samples = report.samples();
        XYSeries pool = new XYSeries("pool pages allocated");
        XYSeries inUse = new XYSeries("pool pages in use");
        XYSeries outside = new XYSeries("native outside the pool (NMT)");
        XYSeries heap = new XYSeries("heap used");
        for (SoakDriver.Sample s : samples) {
            double x = s.elapsedMillis() / 1000.0;
            double pageMiB = s.poolNativeBytes() / (double) Math.max(1, s.poolAllocatedPages()) / 1048576.0;
            pool.add(x, s.poolNativeBytes() / 1048576.0);
            inUse.add(x, s.poolPagesInUse() * pageMiB);
            if (s.nmtOtherCommitted() >= 0) {
                outside.add(x, s.nativeOutsidePool() / 1048576.0);
            }
            heap.add(x, s.heapUsed() / 1048576.0);
        }
        org.jfree.chart.axis.NumberAxis time = new org.jfree.chart.axis.NumberAxis("seconds since the start");
        time.setAutoRangeIncludesZero(false);
        org.jfree.chart.plot.CombinedDomainXYPlot plot = new org.jfree.chart.plot.CombinedDomainXYPlot(time);
        plot.setGap(12);
        plot.add(subplot("pool MiB", new Color(0x1F5FBF), pool, new Color(0x2E8B2E), inUse), 2);
        if (!outside.isEmpty()) {
            plot.add(subplot("outside pool MiB", new Color(0xB0177A), outside, null, null), 1);
        }
        plot.add(subplot("heap MiB", new Color(0xD35400), heap, null, null), 2);
        for (double[] m : warmupEnds(report)) {
            for (Object sub : plot.getSubplots()) {
                ValueMarker marker = new ValueMarker(m[0], new Color(0x777777),
                        new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[]{4f, 4f}, 0f));
                ((XYPlot) sub).addDomainMarker(marker);
            }
        }
        List<?> subs = plot.getSubplots();
        XYPlot top = (XYPlot) subs.getFirst();
        for (double[] m : warmupEnds(report)) {
            ValueMarker label = new ValueMarker(m[0], new Color(0, 0, 0, 0), new BasicStroke(0f));
            boolean stream = m[1] == 0;
            label.setLabel(stream ? " stream checked from here" : "short sequences checked from here ");
            label.setLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            label.setLabelBackgroundColor(new Color(255, 255, 255, 0));
            // the stream's label to the right of its line, the sequences' (near the end) to the left
            label.setLabelAnchor(stream ? org.jfree.chart.ui.RectangleAnchor.TOP_RIGHT : org.jfree.chart.ui.RectangleAnchor.TOP_LEFT);
            label.setLabelTextAnchor(stream ? org.jfree.chart.ui.TextAnchor.TOP_LEFT : org.jfree.chart.ui.TextAnchor.TOP_RIGHT);
            label.setLabelOffset(new org.jfree.chart.ui.RectangleInsets(stream ? 3 : 17, 3, 3, 3)); // two rows: they may be close
            top.addDomainMarker(label);
        }
        JFreeChart chart = new JFreeChart("vidkv soak: memory over time (stream phase, then short sequences)",
                JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 1100, 750);
    }

    private static XYPlot subplot(String axis, Color color, XYSeries series, Color color2, XYSeries series2) {
        XYSeriesCollection data = new XYSeriesCollection(series);
        if (series2 != null) {
            data.addSeries(series2);
        }
        org.jfree.chart.axis.NumberAxis y = new org.jfree.chart.axis.NumberAxis(axis);
        y.setAutoRangeIncludesZero(true); // flat is flat: a constant line sits at its height above zero
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, false);
        r.setSeriesPaint(0, color);
        r.setSeriesStroke(0, new BasicStroke(2f));
        if (series2 != null) {
            r.setSeriesPaint(1, color2);
            r.setSeriesStroke(1, new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[]{7f, 4f}, 0f));
        }
        XYPlot p = new XYPlot(data, null, y, r);
        p.setBackgroundPaint(Color.WHITE);
        p.setRangeGridlinePaint(new Color(0xDDDDDD));
        p.setDomainGridlinePaint(new Color(0xDDDDDD));
        return p;
    }

    /** {seconds, phase (0 stream, 1 sequences)} of the first sample each phase's checks use. */
    private static List<double[]> warmupEnds(SoakDriver.Report report) {
        List<double[]> out = new java.util.ArrayList<>();
        long streamWarmup = SoakDriver.warmupSteps(report.options());
        int seqWarmup = report.options().sequences() / 5; // as SoakDriver: samples after a fifth of the sequences
        report.samples().stream().filter(s -> s.phase().equals("stream") && s.step() > streamWarmup).findFirst()
                .ifPresent(s -> out.add(new double[]{s.elapsedMillis() / 1000.0, 0}));
        report.samples().stream().filter(s -> s.phase().equals("sequences") && s.step() > seqWarmup).findFirst()
                .ifPresent(s -> out.add(new double[]{s.elapsedMillis() / 1000.0, 1}));
        return out;
    }
}
