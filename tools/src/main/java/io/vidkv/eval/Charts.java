package io.vidkv.eval;

import io.vidkv.ModelShape;
import io.vidkv.Preset;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartRenderingInfo;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.annotations.XYLineAnnotation;
import org.jfree.chart.annotations.XYTextAnnotation;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.RectangleAnchor;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.chart.util.ShapeUtils;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Shape;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The PNG charts of {@code vidkv eval --out}, drawn with JFreeChart (headless). Every preset has
 * one colour, marker and dash in every chart and every run ({@link #color}), so a preset is
 * recognised across pareto.png, memory.png and per_layer.png.
 */
public final class Charts {

    private static final int WIDTH = 1100, HEIGHT = 700;
    private static final Font LABEL_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
    private static final Color GRID = new Color(0xDDDDDD);

    /**
     * Preset colours, dark enough to read on white (no yellow, no pastel): fp16 black as the
     * reference, KIVI blue, the flagship vidkv-1.5/1.58 red. Keyed by id, not by position in a run,
     * so the colours do not move when a run selects other presets.
     */
    private static final Map<String, Color> PRESET_COLORS = Map.ofEntries(
            Map.entry(Preset.FP16.id(), new Color(0x000000)),
            Map.entry(Preset.KIVI_2.id(), new Color(0x1F5FBF)),
            Map.entry(Preset.VIDKV_2.id(), new Color(0xD35400)),
            Map.entry(Preset.VIDKV_15_2.id(), new Color(0x2E8B2E)),
            Map.entry(Preset.VIDKV_15_158.id(), new Color(0xC0392B)),
            Map.entry(Preset.VIDKV_125_158.id(), new Color(0x7B3FA0)),
            Map.entry(Preset.VIDKV_15_166_STP.id(), new Color(0x8B5A2B)),
            Map.entry(Preset.VIDKV_175_166_STP.id(), new Color(0xB0177A)),
            Map.entry(Preset.VIDKV_15_158_COMPACT.id(), new Color(0x00808A)),
            Map.entry(Preset.VIDKV_REFERENCE.id(), new Color(0x5A5A5A)));

    /** For names outside the presets (the experiments): picked by a stable hash of the name. */
    private static final Color[] OTHER_COLORS = {new Color(0x3B4CC0), new Color(0x8C2D04), new Color(0x006D2C),
            new Color(0x6A3D9A), new Color(0x99000D), new Color(0x01665E), new Color(0x7F3B08), new Color(0x4D4D4D),
            new Color(0x2166AC), new Color(0x993404), new Color(0x542788), new Color(0x1B7837)};

    private static final Shape[] SHAPES = {new Ellipse2D.Double(-4.5, -4.5, 9, 9), new Rectangle2D.Double(-4, -4, 8, 8),
            ShapeUtils.createUpTriangle(5), ShapeUtils.createDiamond(5.5f), ShapeUtils.createDownTriangle(5),
            ShapeUtils.createDiagonalCross(4, 1.5f), ShapeUtils.createRegularCross(4.5f, 1.5f)};

    private static final float[][] DASHES = {null, {10f, 5f}, {3f, 4f}, {12f, 4f, 3f, 4f}, {6f, 6f}};

    private Charts() {
    }

    /** Palette index of a preset id or experiment name, stable across runs. */
    private static int index(String name) {
        List<String> ids = Preset.ids();
        int i = ids.indexOf(name);
        return i >= 0 ? i : ids.size() + Math.floorMod(name.hashCode(), OTHER_COLORS.length);
    }

    /** The colour of a preset (or experiment) in every chart. */
    public static Color color(String name) {
        Color c = PRESET_COLORS.get(name);
        return c != null ? c : OTHER_COLORS[Math.floorMod(name.hashCode(), OTHER_COLORS.length)];
    }

    private static Shape shape(String name) {
        return SHAPES[index(name) % SHAPES.length];
    }

    private static BasicStroke stroke(String name) {
        float[] dash = DASHES[index(name) % DASHES.length];
        return dash == null ? new BasicStroke(2f)
                : new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, dash, 0f);
    }

    /** Attention error vs effective bits as before, without a data line in the subtitle. */
    public static void pareto(Path file, List<Evaluator.Result> results) throws IOException {
        pareto(file, results, null);
    }

    /**
     * Attention error vs effective bits, one point per preset: the quantized presets on a plain
     * bit axis (ticks every 0.25 or 0.5 bit), the unquantized reference (fp16, 16 bits) as a
     * horizontal line at its error instead of a point that would stretch the axis to 16, and the
     * Pareto frontier (no other preset has both fewer bits and less error). Labels are placed
     * next to their points where they overlap neither another label nor a point.
     */
    public static void pareto(Path file, List<Evaluator.Result> results, String data) throws IOException {
        List<Evaluator.Result> quantized = results.stream().filter(r -> r.nominalBits() < 16).toList();
        List<Evaluator.Result> references = results.stream().filter(r -> r.nominalBits() >= 16).toList();
        List<Evaluator.Result> shown = quantized.isEmpty() ? results : quantized;

        XYSeriesCollection points = new XYSeriesCollection();
        for (Evaluator.Result r : shown) {
            XYSeries s = new XYSeries(r.preset());
            s.add(r.effectiveBits(), r.attnRelError());
            points.addSeries(s);
        }
        JFreeChart chart = ChartFactory.createScatterPlot("Attention error vs effective bits (lower left is better)",
                "effective bits per element (quantized blocks incl. metadata)",
                "attention relative L2 error (vs float64 attention on the original K/V)", points, PlotOrientation.VERTICAL, true,
                false, false);
        subtitle(chart, data);
        XYPlot plot = chart.getXYPlot();
        style(plot);
        XYLineAndShapeRenderer dots = (XYLineAndShapeRenderer) plot.getRenderer();
        for (int i = 0; i < points.getSeriesCount(); i++) {
            String name = (String) points.getSeriesKey(i);
            dots.setSeriesPaint(i, color(name));
            dots.setSeriesShape(i, shape(name));
        }

        XYSeries frontier = new XYSeries("Pareto frontier", false);
        for (Evaluator.Result r : frontier(shown)) {
            frontier.add(r.effectiveBits(), r.attnRelError());
        }
        XYLineAndShapeRenderer line = new XYLineAndShapeRenderer(true, false);
        line.setSeriesPaint(0, new Color(0x888888));
        line.setSeriesStroke(0, new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[]{6f, 4f}, 0f));
        plot.setDataset(1, new XYSeriesCollection(frontier));
        plot.setRenderer(1, line);

        double minX = shown.stream().mapToDouble(Evaluator.Result::effectiveBits).min().orElse(0);
        double maxX = shown.stream().mapToDouble(Evaluator.Result::effectiveBits).max().orElse(1);
        double step = maxX - minX > 3 ? 0.5 : 0.25;
        NumberAxis x = (NumberAxis) plot.getDomainAxis();
        // Room on the right for the labels of the widest-bit presets.
        x.setRange(Math.floor(minX / step) * step - step / 2, Math.ceil(maxX / step) * step + step);
        x.setTickUnit(new NumberTickUnit(step));
        NumberAxis y = (NumberAxis) plot.getRangeAxis();
        double maxY = results.stream().mapToDouble(Evaluator.Result::attnRelError).filter(Double::isFinite).max().orElse(1);
        y.setRange(0, Math.max(maxY * 1.12, 1e-3));

        for (Evaluator.Result ref : quantized.isEmpty() ? List.<Evaluator.Result>of() : references) {
            ValueMarker m = new ValueMarker(ref.attnRelError(), color(ref.preset()),
                    new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[]{2f, 3f}, 0f));
            m.setLabel(String.format(Locale.ROOT, "%s (%.1f bits, off the axis): attention error %.4f", ref.preset(),
                    ref.effectiveBits(), ref.attnRelError()));
            m.setLabelFont(LABEL_FONT);
            m.setLabelPaint(color(ref.preset()));
            m.setLabelAnchor(RectangleAnchor.TOP_LEFT);
            m.setLabelTextAnchor(TextAnchor.BOTTOM_LEFT);
            m.setLabelBackgroundColor(new Color(255, 255, 255, 0));
            plot.addRangeMarker(m);
        }
        placeLabels(chart, plot, shown, frontier(shown));
        ChartUtils.saveChartAsPNG(file.toFile(), chart, WIDTH, HEIGHT);
    }

    /** The lower-left envelope: by bits ascending, each point with less error than every point before it. */
    static List<Evaluator.Result> frontier(List<Evaluator.Result> results) {
        List<Evaluator.Result> sorted = new ArrayList<>(results.stream().filter(r -> Double.isFinite(r.attnRelError())).toList());
        sorted.sort(Comparator.comparingDouble(Evaluator.Result::effectiveBits).thenComparingDouble(Evaluator.Result::attnRelError));
        List<Evaluator.Result> out = new ArrayList<>();
        double best = Double.POSITIVE_INFINITY;
        for (Evaluator.Result r : sorted) {
            if (r.attnRelError() < best) {
                out.add(r);
                best = r.attnRelError();
            }
        }
        return out;
    }

    /**
     * Renders once to learn where the data area is, then puts each label at the first of a ring of
     * positions around its point whose box stays inside the plot and clear of every placed label,
     * every point and the frontier line; a label moved away from its point gets a thin leader line.
     */
    private static void placeLabels(JFreeChart chart, XYPlot plot, List<Evaluator.Result> shown, List<Evaluator.Result> line) {
        ChartRenderingInfo info = new ChartRenderingInfo();
        chart.createBufferedImage(WIDTH, HEIGHT, info);
        Rectangle2D area = info.getPlotInfo().getDataArea();
        Graphics2D g = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB).createGraphics();
        FontMetrics fm = g.getFontMetrics(LABEL_FONT);
        g.dispose();
        NumberAxis x = (NumberAxis) plot.getDomainAxis();
        NumberAxis y = (NumberAxis) plot.getRangeAxis();
        List<Rectangle2D> taken = new ArrayList<>();
        double[][] px = new double[shown.size()][2];
        for (int i = 0; i < shown.size(); i++) {
            px[i][0] = x.valueToJava2D(shown.get(i).effectiveBits(), area, RectangleEdge.BOTTOM);
            px[i][1] = y.valueToJava2D(shown.get(i).attnRelError(), area, RectangleEdge.LEFT);
            taken.add(new Rectangle2D.Double(px[i][0] - 6, px[i][1] - 6, 12, 12));
        }
        List<java.awt.geom.Line2D> segments = new ArrayList<>(); // the frontier: labels keep off it too
        for (int i = 1; i < line.size(); i++) {
            segments.add(new java.awt.geom.Line2D.Double(
                    x.valueToJava2D(line.get(i - 1).effectiveBits(), area, RectangleEdge.BOTTOM),
                    y.valueToJava2D(line.get(i - 1).attnRelError(), area, RectangleEdge.LEFT),
                    x.valueToJava2D(line.get(i).effectiveBits(), area, RectangleEdge.BOTTOM),
                    y.valueToJava2D(line.get(i).attnRelError(), area, RectangleEdge.LEFT)));
        }
        for (int i = 0; i < shown.size(); i++) {
            String text = shown.get(i).preset();
            double w = fm.stringWidth(text) + 4, h = fm.getHeight();
            Rectangle2D chosen = null;
            for (int ring = 1; ring <= 6 && chosen == null; ring++) {
                double r = 10 + (ring - 1) * 14;
                // right, left, above, below, then the diagonals
                double[][] offsets = {{r, -h / 2}, {-r - w, -h / 2}, {-w / 2, -r - h}, {-w / 2, r}, {r, -r - h}, {r, r},
                        {-r - w, -r - h}, {-r - w, r}};
                for (double[] o : offsets) {
                    Rectangle2D box = new Rectangle2D.Double(px[i][0] + o[0], px[i][1] + o[1], w, h);
                    if (area.contains(box) && taken.stream().noneMatch(box::intersects)
                            && segments.stream().noneMatch(l -> l.intersects(box))) {
                        chosen = box;
                        break;
                    }
                }
            }
            if (chosen == null) { // crowded beyond six rings: right of the point, overlap accepted
                chosen = new Rectangle2D.Double(px[i][0] + 10, px[i][1] - h / 2, w, h);
            }
            taken.add(chosen);
            double lx = x.java2DToValue(chosen.getCenterX(), area, RectangleEdge.BOTTOM);
            double ly = y.java2DToValue(chosen.getCenterY(), area, RectangleEdge.LEFT);
            XYTextAnnotation label = new XYTextAnnotation(text, lx, ly);
            label.setFont(LABEL_FONT);
            label.setPaint(color(text));
            label.setTextAnchor(TextAnchor.CENTER);
            plot.addAnnotation(label);
            // a leader from the point to the nearest edge of a label that is not right next to it
            double ex = Math.max(chosen.getMinX(), Math.min(px[i][0], chosen.getMaxX()));
            double ey = Math.max(chosen.getMinY(), Math.min(px[i][1], chosen.getMaxY()));
            if (Math.hypot(ex - px[i][0], ey - px[i][1]) > 14) {
                plot.addAnnotation(new XYLineAnnotation(shown.get(i).effectiveBits(), shown.get(i).attnRelError(),
                        x.java2DToValue(ex, area, RectangleEdge.BOTTOM), y.java2DToValue(ey, area, RectangleEdge.LEFT),
                        new BasicStroke(0.8f), new Color(0x999999)));
            }
        }
    }

    /** Bytes held by the whole model vs context length per preset, projected from the measured bits. */
    public static void memory(Path file, List<Evaluator.Result> results, ModelShape model) throws IOException {
        memory(file, results, model, null);
    }

    /**
     * Bytes the whole model would hold vs context length per preset: a projection from the measured
     * effective bits (residual window included) onto {@code model}'s shape, not a measurement.
     * Presets with the same effective bits draw the same line, so they share one series ("kivi-2 =
     * vidkv-2"); the others differ by colour, dash and marker, so close lines stay apart.
     */
    public static void memory(Path file, List<Evaluator.Result> results, ModelShape model, String data) throws IOException {
        Map<String, List<Evaluator.Result>> groups = new LinkedHashMap<>();
        for (Evaluator.Result r : results) {
            groups.computeIfAbsent(String.format(Locale.ROOT, "%.3f", r.effectiveBits()), k -> new ArrayList<>()).add(r);
        }
        XYSeriesCollection data2 = new XYSeriesCollection();
        List<String> firstOfGroup = new ArrayList<>();
        int[] contexts = {1024, 2048, 4096, 6272, 8192, 16384, 32768, 65536};
        for (Map.Entry<String, List<Evaluator.Result>> g : groups.entrySet()) {
            Evaluator.Result r = g.getValue().getFirst();
            String name = String.join(" = ", g.getValue().stream().map(Evaluator.Result::preset).toList()) + " (" + g.getKey()
                    + " bits)";
            XYSeries s = new XYSeries(name);
            for (int n : contexts) {
                // the residual window: R + G - 1 float32 tokens at most after the first block (159 for the
                // presets' R 128, G 32; --residual changes R)
                int window = Math.min(n, r.residual() + r.groupSize() - 1);
                double quantized = (n - window) * (double) model.layers() * model.tokenElements() * 2;
                double bytes = quantized * r.effectiveBits() / 8 + window * (double) model.layers() * model.tokenElements() * 2 * 4;
                s.add(n, bytes / 1048576.0);
            }
            data2.addSeries(s);
            firstOfGroup.add(r.preset());
        }
        JFreeChart chart = ChartFactory.createXYLineChart("Projected KV cache memory vs context (" + shapeName(model) + ")",
                "context tokens (log scale)", "MiB held by the whole model (log scale)", data2, PlotOrientation.VERTICAL, true,
                false, false);
        chart.addSubtitle(new TextTitle("A projection, not a measurement: the effective bits measured by this eval x " + model.layers()
                + " layers x " + model.kvHeads() + " KV heads (" + model.queryHeads() + " query heads) x d = " + model.headDim()
                + " x (K, V),", new Font(Font.SANS_SERIF, Font.PLAIN, 12)));
        chart.addSubtitle(new TextTitle("plus a float32 residual window of up to 159 tokens; scripts/vidkv memory measures real caches",
                new Font(Font.SANS_SERIF, Font.PLAIN, 12)));
        subtitle(chart, data);
        XYPlot plot = chart.getXYPlot();
        style(plot);
        org.jfree.chart.axis.LogarithmicAxis x = new org.jfree.chart.axis.LogarithmicAxis("context tokens (log scale)");
        x.setStrictValuesFlag(false);
        // room right of the last context for the line labels
        x.setRange(contexts[0] * 0.8, contexts[contexts.length - 1] * 9.0);
        plot.setDomainAxis(x);
        plot.setRangeAxis(new org.jfree.chart.axis.LogarithmicAxis("MiB held by the whole model (log scale)"));
        XYLineAndShapeRenderer renderer = (XYLineAndShapeRenderer) plot.getRenderer();
        renderer.setDefaultShapesVisible(true);
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < firstOfGroup.size(); i++) {
            renderer.setSeriesPaint(i, color(firstOfGroup.get(i)));
            renderer.setSeriesShape(i, shape(firstOfGroup.get(i)));
            renderer.setSeriesStroke(i, stroke(firstOfGroup.get(i)));
            labels.add(String.join(" = ", groups.values().stream().skip(i).findFirst().orElseThrow().stream()
                    .map(Evaluator.Result::preset).toList()));
        }
        endLabels(chart, plot, data2, labels, firstOfGroup);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, WIDTH, HEIGHT);
    }

    /**
     * Labels at the right end of each line, spread vertically so that none overlaps another (lines
     * a few percent apart end a few pixels apart), each joined to its line's last point by a leader.
     */
    private static void endLabels(JFreeChart chart, XYPlot plot, XYSeriesCollection data, List<String> labels, List<String> colors) {
        ChartRenderingInfo info = new ChartRenderingInfo();
        chart.createBufferedImage(WIDTH, HEIGHT, info);
        Rectangle2D area = info.getPlotInfo().getDataArea();
        Graphics2D g = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB).createGraphics();
        double h = g.getFontMetrics(LABEL_FONT).getHeight();
        g.dispose();
        int n = data.getSeriesCount();
        Integer[] order = new Integer[n];
        double[] endX = new double[n], endY = new double[n], labelY = new double[n];
        for (int i = 0; i < n; i++) {
            XYSeries s = data.getSeries(i);
            order[i] = i;
            endX[i] = plot.getDomainAxis().valueToJava2D(s.getMaxX(), area, RectangleEdge.BOTTOM);
            endY[i] = plot.getRangeAxis().valueToJava2D(s.getY(s.getItemCount() - 1).doubleValue(), area, RectangleEdge.LEFT);
        }
        java.util.Arrays.sort(order, Comparator.comparingDouble(i -> endY[i])); // top of the plot first
        double next = area.getMinY() + h / 2;
        for (int i : order) {
            labelY[i] = Math.max(endY[i], next);
            next = labelY[i] + h + 1;
        }
        double overflow = next - h - 1 - (area.getMaxY() - h / 2); // pushed past the bottom: shift the stack up
        if (overflow > 0) {
            for (int i : order) {
                labelY[i] -= overflow;
            }
        }
        double lx = endX[0] + 40;
        for (int i = 0; i < n; i++) {
            double vx = plot.getDomainAxis().java2DToValue(lx, area, RectangleEdge.BOTTOM);
            double vy = plot.getRangeAxis().java2DToValue(labelY[i], area, RectangleEdge.LEFT);
            XYTextAnnotation t = new XYTextAnnotation(" " + labels.get(i), vx, vy);
            t.setFont(LABEL_FONT);
            t.setPaint(color(colors.get(i)));
            t.setTextAnchor(TextAnchor.CENTER_LEFT);
            plot.addAnnotation(t);
            XYSeries s = data.getSeries(i);
            plot.addAnnotation(new XYLineAnnotation(s.getMaxX(), s.getY(s.getItemCount() - 1).doubleValue(), vx, vy,
                    new BasicStroke(0.8f), color(colors.get(i))));
        }
    }

    private static String shapeName(ModelShape m) {
        return m.equals(ModelShape.QWEN2_7B) ? "Qwen2-7B shape" : "model shape " + m.layers() + " x " + m.kvHeads() + " x " + m.headDim();
    }

    /** Attention error per layer, bars grouped by layer, one bar per preset in its colour. */
    public static void perLayer(Path file, List<Evaluator.Result> results) throws IOException {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (Evaluator.Result r : results) {
            for (Evaluator.LayerResult l : r.layers()) {
                data.addValue(l.attnRelError(), r.preset(), "layer " + l.layer());
            }
        }
        JFreeChart chart = ChartFactory.createBarChart("Attention error per layer", "layer",
                "attention relative L2 error (vs float64 attention on the original K/V)", data, PlotOrientation.VERTICAL, true,
                false, false);
        chart.getCategoryPlot().setBackgroundPaint(Color.WHITE);
        chart.getCategoryPlot().setRangeGridlinePaint(GRID);
        BarRenderer bars = (BarRenderer) chart.getCategoryPlot().getRenderer();
        bars.setBarPainter(new org.jfree.chart.renderer.category.StandardBarPainter());
        bars.setShadowVisible(false);
        for (int i = 0; i < data.getRowCount(); i++) {
            bars.setSeriesPaint(i, color((String) data.getRowKey(i)));
        }
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 1300, HEIGHT);
    }

    private static void subtitle(JFreeChart chart, String data) {
        if (data != null && !data.isBlank()) {
            chart.addSubtitle(new TextTitle("data: " + data, new Font(Font.SANS_SERIF, Font.PLAIN, 11)));
        }
    }

    private static void style(XYPlot plot) {
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(GRID);
        plot.setDomainGridlinePaint(GRID);
        plot.setOutlinePaint(new Color(0xAAAAAA));
    }
}
