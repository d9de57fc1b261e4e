package cascadelm.spark;

import org.apache.spark.sql.Row;

import java.util.ArrayList;
import java.util.List;

/** A few result rows as a plain text table for the terminal (Dataset.show prints to System.out only). */
final class RowTable {
    private RowTable() {
    }

    static String format(List<Row> rows, String[] columns, int maxWidth) {
        List<String[]> cells = new ArrayList<>();
        cells.add(columns);
        for (Row r : rows) {
            String[] c = new String[columns.length];
            for (int i = 0; i < columns.length; i++) c[i] = cell(r.get(i), maxWidth);
            cells.add(c);
        }
        int[] width = new int[columns.length];
        for (String[] c : cells) for (int i = 0; i < c.length; i++) width[i] = Math.max(width[i], c[i].length());
        StringBuilder b = new StringBuilder();
        for (int k = 0; k < cells.size(); k++) {
            String[] c = cells.get(k);
            for (int i = 0; i < c.length; i++) {
                b.append(i == 0 ? "" : " | ").append(c[i]).append(" ".repeat(width[i] - c[i].length()));
            }
            b.append('\n');
            if (k == 0) {
                for (int i = 0; i < c.length; i++) b.append(i == 0 ? "" : "-+-").append("-".repeat(width[i]));
                b.append('\n');
            }
        }
        return b.toString();
    }

    private static String cell(Object v, int maxWidth) {
        if (v == null) return "";
        String s = v.toString().replace('\n', ' ').replace('\r', ' ');
        return s.length() <= maxWidth ? s : s.substring(0, maxWidth - 1) + "…";
    }
}
