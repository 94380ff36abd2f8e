package io.vidkv.replay;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Writes a soak run as soak.json, soak-samples.csv and soak.png (memory over time, one line per
 * source; NMT's JVM-wide total is in the CSV only: its ~600 MiB of code cache and metaspace would
 * flatten every other line).
 */
public final class SoakReportWriter {

    private SoakReportWriter() {
    }

    public static void write(Path dir, SoakDriver.Report report) throws IOException {
        Files.createDirectories(dir);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(dir.resolve("soak.json").toFile(), report);
        try (PrintStream csv = new PrintStream(Files.newOutputStream(dir.resolve("soak-samples.csv")), false, "UTF-8")) {
            csv.println("phase,step,elapsed_ms,retained_tokens,pool_pages_in_use,pool_allocated_pages,pool_native_bytes,"
                    + "nmt_total_committed,nmt_other_committed,native_outside_pool,heap_used,heap_allocated_by_driver");
            for (SoakDriver.Sample s : report.samples()) {
                csv.printf(Locale.ROOT, "%s,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d%n", s.phase(), s.step(), s.elapsedMillis(),
                        s.retainedTokens(), s.poolPagesInUse(), s.poolAllocatedPages(), s.poolNativeBytes(), s.nmtTotalCommitted(),
                        s.nmtOtherCommitted(), s.nativeOutsidePool(), s.heapUsed(), s.heapAllocatedByDriver());
            }
        }
        chart(dir.resolve("soak.png"), report.samples());
    }

    private static void chart(Path file, List<SoakDriver.Sample> samples) throws IOException {
        XYSeries pool = new XYSeries("pool pages allocated (MiB)");
        XYSeries inUse = new XYSeries("pool pages in use (MiB)");
        XYSeries outside = new XYSeries("native outside the pool, NMT (MiB)");
        XYSeries heap = new XYSeries("heap used (MiB)");
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
        XYSeriesCollection data = new XYSeriesCollection();
        data.addSeries(pool);
        data.addSeries(inUse);
        if (!outside.isEmpty()) {
            data.addSeries(outside);
        }
        data.addSeries(heap);
        JFreeChart chart = ChartFactory.createXYLineChart("vidkv soak: memory over time (stream phase, then short sequences)",
                "seconds", "MiB", data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(java.awt.Color.WHITE);
        plot.setRangeGridlinePaint(java.awt.Color.LIGHT_GRAY);
        plot.setDomainGridlinePaint(java.awt.Color.LIGHT_GRAY);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 1100, 650);
    }
}
