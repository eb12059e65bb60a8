namespace Tessera.Models.Ocr;

/// <summary>A point in double precision, for the geometry of boxes.</summary>
internal readonly record struct P(double X, double Y)
{
    public static P operator +(P a, P b) => new(a.X + b.X, a.Y + b.Y);
    public static P operator -(P a, P b) => new(a.X - b.X, a.Y - b.Y);
    public static P operator *(double s, P a) => new(s * a.X, s * a.Y);
    public double Dot(P o) => X * o.X + Y * o.Y;
    public double Cross(P o) => X * o.Y - Y * o.X;
    public double Length => Math.Sqrt(X * X + Y * Y);
}

/// <summary>The geometry of DB post-processing and cropping, after the OpenCV calls PaddleOCR makes:
/// cv2.convexHull, cv2.minAreaRect + cv2.boxPoints (get_mini_boxes), the unclip offset, order_points_clockwise
/// and sorted_boxes.</summary>
internal static class OcrGeometry
{
    /// <summary>The convex hull, counter-clockwise in a y-up frame (clockwise on screen), without collinear points
    /// (Andrew's monotone chain). Fewer than 3 distinct points come back as they are (deduplicated).</summary>
    public static P[] ConvexHull(IReadOnlyList<P> points)
    {
        var pts = points.Distinct().OrderBy(p => p.X).ThenBy(p => p.Y).ToArray();
        if (pts.Length < 3) return pts;
        var hull = new P[2 * pts.Length];
        int k = 0;
        for (int i = 0; i < pts.Length; i++)
        {
            while (k >= 2 && (hull[k - 1] - hull[k - 2]).Cross(pts[i] - hull[k - 2]) <= 0) k--;
            hull[k++] = pts[i];
        }
        for (int i = pts.Length - 2, lower = k + 1; i >= 0; i--)
        {
            while (k >= lower && (hull[k - 1] - hull[k - 2]).Cross(pts[i] - hull[k - 2]) <= 0) k--;
            hull[k++] = pts[i];
        }
        return hull[..(k - 1)];
    }

    /// <summary>The minimum-area enclosing rectangle of the points (cv2.minAreaRect): by rotating calipers, one
    /// candidate per hull edge, the first smallest kept. Returns its 4 corners (in hull order) and its side lengths.</summary>
    public static (P[] Corners, double Width, double Height) MinAreaRect(IReadOnlyList<P> points)
    {
        var hull = ConvexHull(points);
        if (hull.Length == 0) throw new TesseraException("minimum-area rectangle of no points");
        if (hull.Length == 1) return ([hull[0], hull[0], hull[0], hull[0]], 0, 0);
        if (hull.Length == 2)
        {
            double len = (hull[1] - hull[0]).Length;
            return ([hull[0], hull[1], hull[1], hull[0]], len, 0);
        }
        double best = double.MaxValue;
        P[] corners = [];
        double bw = 0, bh = 0;
        for (int i = 0; i < hull.Length; i++)
        {
            var e = hull[(i + 1) % hull.Length] - hull[i];
            var u = (1 / e.Length) * e;
            var v = new P(-u.Y, u.X);
            double minU = double.MaxValue, maxU = double.MinValue, minV = double.MaxValue, maxV = double.MinValue;
            foreach (var p in hull)
            {
                var d = p - hull[i];
                double a = d.Dot(u), b = d.Dot(v);
                minU = Math.Min(minU, a); maxU = Math.Max(maxU, a);
                minV = Math.Min(minV, b); maxV = Math.Max(maxV, b);
            }
            double area = (maxU - minU) * (maxV - minV);
            if (area < best - 1e-9 * Math.Max(1, best))
            {
                best = area;
                bw = maxU - minU;
                bh = maxV - minV;
                P At(double a, double b) => hull[i] + a * u + b * v;
                corners = [At(minU, minV), At(maxU, minV), At(maxU, maxV), At(minU, maxV)];
            }
        }
        return (corners, bw, bh);
    }

    /// <summary>PaddleOCR's get_mini_boxes: the minimum-area rectangle's corners ordered top-left, top-right,
    /// bottom-right, bottom-left (the two leftmost by x, the upper of them first; the two rightmost, the upper
    /// first), and its shorter side.</summary>
    public static (P[] Box, double ShortSide) MiniBox(IReadOnlyList<P> points)
    {
        var (c, w, h) = MinAreaRect(points);
        var s = c.OrderBy(p => p.X).ToArray(); // stable, as Python's sorted
        var (i1, i4) = s[1].Y > s[0].Y ? (0, 1) : (1, 0);
        var (i2, i3) = s[3].Y > s[2].Y ? (2, 3) : (3, 2);
        return ([s[i1], s[i2], s[i3], s[i4]], Math.Min(w, h));
    }

    /// <summary>Shoelace area (absolute) of a polygon.</summary>
    public static double Area(IReadOnlyList<P> poly)
    {
        double a = 0;
        for (int i = 0; i < poly.Count; i++) a += poly[i].Cross(poly[(i + 1) % poly.Count]);
        return Math.Abs(a) / 2;
    }

    /// <summary>Perimeter of a closed polygon.</summary>
    public static double Perimeter(IReadOnlyList<P> poly)
    {
        double l = 0;
        for (int i = 0; i < poly.Count; i++) l += (poly[(i + 1) % poly.Count] - poly[i]).Length;
        return l;
    }

    /// <summary>DB's unclip of a rectangle: the offset distance is area * ratio / perimeter, and growing a rectangle
    /// by a distance d with round joins (pyclipper's JT_ROUND) has as its minimum-area rectangle the rectangle grown
    /// by d on every side, which is what is returned (corners in the input's order). PaddleOCR hands pyclipper integer
    /// coordinates, so its result can differ from this exact one by under a pixel.</summary>
    public static P[] UnclipRect(IReadOnlyList<P> rect, double ratio)
    {
        if (rect.Count != 4) throw new TesseraException($"unclip expects a rectangle of 4 points, got {rect.Count}");
        double perimeter = Perimeter(rect);
        if (perimeter <= 0) return [.. rect];
        double d = Area(rect) * ratio / perimeter;
        var centre = 0.25 * (rect[0] + rect[1] + rect[2] + rect[3]);
        var e1 = rect[1] - rect[0];
        var e2 = rect[3] - rect[0];
        var u = e1.Length > 0 ? (1 / e1.Length) * e1 : new P(1, 0);
        var v = e2.Length > 0 ? (1 / e2.Length) * e2 : new P(-u.Y, u.X);
        var result = new P[4];
        for (int i = 0; i < 4; i++)
        {
            var r = rect[i] - centre;
            result[i] = rect[i] + d * Math.Sign(r.Dot(u)) * u + d * Math.Sign(r.Dot(v)) * v;
        }
        return result;
    }

    /// <summary>PaddleOCR's order_points_clockwise: top-left is the point of least x + y, bottom-right of greatest,
    /// and of the other two, top-right has the least y - x and bottom-left the greatest.</summary>
    public static P[] OrderClockwise(IReadOnlyList<P> pts)
    {
        if (pts.Count != 4) throw new TesseraException($"ordering a box needs 4 points, got {pts.Count}");
        int tl = 0, br = 0;
        for (int i = 1; i < 4; i++)
        {
            if (pts[i].X + pts[i].Y < pts[tl].X + pts[tl].Y) tl = i;
            if (pts[i].X + pts[i].Y > pts[br].X + pts[br].Y) br = i;
        }
        if (tl == br) br = tl == 3 ? 2 : 3; // all sums equal: a degenerate box, keep 4 distinct indices
        var rest = Enumerable.Range(0, 4).Where(i => i != tl && i != br).ToArray();
        double d0 = pts[rest[0]].Y - pts[rest[0]].X, d1 = pts[rest[1]].Y - pts[rest[1]].X;
        var (tr, bl) = d1 < d0 ? (rest[1], rest[0]) : (rest[0], rest[1]);
        return [pts[tl], pts[tr], pts[br], pts[bl]];
    }

    /// <summary>PaddleOCR's sorted_boxes: by the top-left corner's y then x, then, for neighbours whose top-left y
    /// differ by less than 10 pixels, the left one first (one insertion pass, as PaddleOCR does it).</summary>
    public static List<T> ReadingOrder<T>(IEnumerable<T> items, Func<T, P> topLeft)
    {
        var list = items.OrderBy(b => topLeft(b).Y).ThenBy(b => topLeft(b).X).ToList();
        for (int i = 0; i < list.Count - 1; i++)
            for (int j = i; j >= 0; j--)
            {
                P a = topLeft(list[j]), b = topLeft(list[j + 1]);
                if (Math.Abs(b.Y - a.Y) < 10 && b.X < a.X) (list[j], list[j + 1]) = (list[j + 1], list[j]);
                else break;
            }
        return list;
    }
}
