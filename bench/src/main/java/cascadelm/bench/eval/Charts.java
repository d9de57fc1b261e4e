package cascadelm.bench.eval;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The evaluations' PNG charts, drawn without a display. */
public final class Charts {
    static {
        // Servers and CI have no display; AWT must not try to open one.
        System.setProperty("java.awt.headless", "true");
    }

    private Charts() {
    }

    /**
     * A heat map of values in [0, 1] shown as percent: {@code values[y][x]}, columns labelled {@code xLabels},
     * rows {@code yLabels}.
     */
    public static void heatMap(Path png, String title, String xTitle, List<String> xLabels, String yTitle,
                               List<String> yLabels, double[][] values) throws IOException {
        HeatMapChart chart = new HeatMapChartBuilder().width(Math.max(800, 60 * xLabels.size() + 250))
                .height(Math.max(300, 50 * yLabels.size() + 150)).title(title)
                .xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setMin(0).setMax(100).setShowValue(true)
                .setRangeColors(new Color[]{new Color(0xd7301f), new Color(0xfee08b), new Color(0x1a9850)})
                .setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        List<Number[]> cells = new ArrayList<>();
        for (int y = 0; y < yLabels.size(); y++) {
            for (int x = 0; x < xLabels.size(); x++) {
                cells.add(new Number[]{x, y, Math.round(100 * values[y][x])});
            }
        }
        chart.addSeries("accuracy %", xLabels, yLabels, cells);
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    /**
     * Lines with markers, one series per entry: rows of (x, y). Linear axes: a per-token cost that grows linearly
     * with length (the full cache) is then a straight rising line, a bounded one a flat line.
     */
    public static void lines(Path png, String title, String xTitle, String yTitle, Map<String, double[][]> series)
            throws IOException {
        XYChart chart = new XYChartBuilder().width(800).height(500).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS)
                .setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setXAxisDecimalPattern("#,###");
        // From zero, with headroom: xchart's own range can clip the highest point, and a flat line should look flat.
        double top = series.values().stream().flatMap(java.util.Arrays::stream).mapToDouble(r -> r[1]).max().orElse(1);
        chart.getStyler().setYAxisMin(0.0).setYAxisMax(top * 1.08);
        series.forEach((name, rows) -> {
            double[] x = new double[rows.length];
            double[] y = new double[rows.length];
            for (int i = 0; i < rows.length; i++) {
                x[i] = rows[i][0];
                y[i] = rows[i][1];
            }
            XYSeries s = chart.addSeries(name, x, y);
            s.setMarker(rows.length > 40 ? SeriesMarkers.NONE : SeriesMarkers.CIRCLE);
        });
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    /**
     * Percentages against a logarithmic x axis (distances from 256 to a million tokens), one line per entry:
     * rows of (x, y in [0, 100]); rows with NaN y are left out.
     */
    public static void percentLinesLogX(Path png, String title, String xTitle, String yTitle,
                                        Map<String, double[][]> series) throws IOException {
        XYChart chart = new XYChartBuilder().width(800).height(500).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS).setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setXAxisLogarithmic(true).setXAxisDecimalPattern("#,###");
        chart.getStyler().setYAxisMin(0.0).setYAxisMax(105.0);
        series.forEach((name, rows) -> {
            double[][] kept = java.util.Arrays.stream(rows).filter(r -> !Double.isNaN(r[1])).toArray(double[][]::new);
            if (kept.length == 0) return;
            double[] x = new double[kept.length];
            double[] y = new double[kept.length];
            for (int i = 0; i < kept.length; i++) {
                x[i] = kept[i][0];
                y[i] = kept[i][1];
            }
            chart.addSeries(name, x, y).setMarker(SeriesMarkers.CIRCLE);
        });
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}
