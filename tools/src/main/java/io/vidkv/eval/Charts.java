package io.vidkv.eval;

import io.vidkv.ModelShape;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.labels.StandardXYItemLabelGenerator;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** The PNG charts of {@code vidkv eval --out}, drawn with JFreeChart (headless). */
public final class Charts {

    private Charts() {
    }

    /** Attention error vs effective bits, one labelled point per preset: the Pareto picture. */
    public static void pareto(Path file, List<Evaluator.Result> results) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        for (Evaluator.Result r : results) {
            XYSeries s = new XYSeries(r.preset());
            s.add(r.effectiveBits(), r.attnRelError());
            data.addSeries(s);
        }
        JFreeChart chart = ChartFactory.createScatterPlot("Attention error vs effective bits", "effective bits per element",
                "attention relative L2 error", data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        XYLineAndShapeRenderer renderer = (XYLineAndShapeRenderer) plot.getRenderer();
        renderer.setDefaultItemLabelGenerator(new StandardXYItemLabelGenerator("{0}"));
        renderer.setDefaultItemLabelsVisible(true);
        LogAxis x = new LogAxis("effective bits per element (log scale)");
        x.setBase(2);
        x.setRange(1.25, 24);
        plot.setDomainAxis(x);
        plot.setBackgroundPaint(java.awt.Color.WHITE);
        plot.setRangeGridlinePaint(java.awt.Color.LIGHT_GRAY);
        plot.setDomainGridlinePaint(java.awt.Color.LIGHT_GRAY);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 1100, 700);
    }

    /** Bytes held by the whole model vs context length per preset (bits as measured, residual window included). */
    public static void memory(Path file, List<Evaluator.Result> results, ModelShape model) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        int[] contexts = {1024, 2048, 4096, 6272, 8192, 16384, 32768, 65536};
        for (Evaluator.Result r : results) {
            XYSeries s = new XYSeries(r.preset());
            for (int n : contexts) {
                int window = Math.min(n, 159);
                double quantized = (n - window) * (double) model.layers() * model.tokenElements() * 2;
                double bytes = quantized * r.effectiveBits() / 8 + window * (double) model.layers() * model.tokenElements() * 2 * 4;
                s.add(n, bytes / 1048576.0);
            }
            data.addSeries(s);
        }
        JFreeChart chart = ChartFactory.createXYLineChart("KV cache memory vs context (" + model.layers() + " layers, "
                        + model.kvHeads() + " KV heads, d = " + model.headDim() + ")", "context tokens", "MiB",
                data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        org.jfree.chart.axis.LogarithmicAxis x = new org.jfree.chart.axis.LogarithmicAxis("context tokens (log scale)");
        x.setStrictValuesFlag(false);
        plot.setDomainAxis(x);
        org.jfree.chart.axis.LogarithmicAxis y = new org.jfree.chart.axis.LogarithmicAxis("MiB (log scale)");
        plot.setRangeAxis(y);
        plot.setBackgroundPaint(java.awt.Color.WHITE);
        plot.setRangeGridlinePaint(java.awt.Color.LIGHT_GRAY);
        plot.setDomainGridlinePaint(java.awt.Color.LIGHT_GRAY);
        ((XYLineAndShapeRenderer) plot.getRenderer()).setDefaultShapesVisible(true);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 1100, 700);
    }

    /** Attention error per layer, bars grouped by layer, one bar per preset. */
    public static void perLayer(Path file, List<Evaluator.Result> results) throws IOException {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (Evaluator.Result r : results) {
            for (Evaluator.LayerResult l : r.layers()) {
                data.addValue(l.attnRelError(), r.preset(), "layer " + l.layer());
            }
        }
        JFreeChart chart = ChartFactory.createBarChart("Attention error per layer", "layer", "attention relative L2 error", data,
                PlotOrientation.VERTICAL, true, false, false);
        chart.getCategoryPlot().setBackgroundPaint(java.awt.Color.WHITE);
        chart.getCategoryPlot().setRangeGridlinePaint(java.awt.Color.LIGHT_GRAY);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 1300, 700);
    }
}
