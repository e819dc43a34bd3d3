"""Charts drawn with QPainter (PySide6-Essentials has no QtCharts): the agreement heatmap and bar charts.

A chart paints the same way on screen (theme colours) and into a PNG (light colours, twice the
pixels), so what is exported is what was seen. Numbers are written on every cell and bar, and a
band is named in text wherever it is shown in colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontInfo,
    QFontMetricsF,
    QImage,
    QPainter,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from annotary.core.errors import AnnotaryError
from annotary.flows.workspace import BarGroup, HeatmapData, num

# light enough that dark text stays readable on them in every theme
BAND_COLORS = {"good": "#a8dba0", "watch": "#ffd978", "flagged": "#f4a69d", "n/a": "#dcdcdc"}
CELL_INK = "#1b1b1b"
EXPORT_WIDTH = 1100
EXPORT_SCALE = 2
EXPORT_TEXT = 15  # pixels
LEGEND = {"good": "good ≥ 0.70", "watch": "watch 0.40–0.70", "flagged": "flagged < 0.40",
          "n/a": "n/a: no figure (too few shared items)"}


def nice_top(value: float) -> tuple[float, float]:
    """A round axis end at or above a count and its whole-number step, at most six steps."""
    if value <= 0:
        return 1.0, 1.0
    magnitude = 10 ** math.floor(math.log10(value / 6))
    for m in (1, 2, 2.5, 5, 10, 20):
        step = m * magnitude
        if step < 1 or (step != int(step)):
            continue
        if math.ceil(value / step - 1e-9) <= 6:
            return step * math.ceil(value / step - 1e-9), step
    return value, value / 4


@dataclass(frozen=True)
class Ink:
    fg: QColor
    bg: QColor
    muted: QColor
    line: QColor
    accent: QColor
    on_accent: QColor
    track: QColor


def screen_ink(palette: QPalette) -> Ink:
    R = QPalette.ColorRole
    bg = palette.color(R.Base)
    track = QColor(palette.color(R.Mid))
    track.setAlpha(90)
    return Ink(palette.color(R.Text), bg, palette.color(R.PlaceholderText), palette.color(R.Mid),
               palette.color(R.Highlight), palette.color(R.HighlightedText), track)


PRINT_INK = Ink(QColor("#1b1b1b"), QColor("#ffffff"), QColor("#5f6368"), QColor("#b8bcc4"),
                QColor("#3b6db3"), QColor("#ffffff"), QColor("#e4e8ef"))


def _font(base: QFont, px: float, bold: bool = False) -> QFont:
    f = QFont(base)
    f.setPixelSize(max(7, round(px)))
    f.setBold(bold)
    return f


class Chart(QWidget):
    """A painted chart: subclasses lay out for a width and paint with given colours and text size."""

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        self.setAccessibleName(name)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # -- for subclasses ---------------------------------------------------------------------------
    def content_height(self, width: float, px: float) -> float:
        raise NotImplementedError

    def paint(self, p: QPainter, rect: QRectF, ink: Ink, px: float) -> None:
        raise NotImplementedError

    def description(self) -> str:
        """The chart in words, for screen readers (a picture says nothing to them)."""
        return ""

    def export_width(self, px: float) -> float:
        """The width a PNG of the chart needs (its content, not the window's)."""
        return EXPORT_WIDTH

    # -- drawing ----------------------------------------------------------------------------------
    def _px(self) -> float:
        return float(QFontInfo(self.font()).pixelSize())

    def refit(self) -> None:
        self.setMinimumHeight(int(self.content_height(max(self.width(), 400), self._px())))
        self.setAccessibleDescription(self.description())
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(800, int(self.content_height(800, self._px())))

    def paintEvent(self, event):  # noqa: N802 - Qt override
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        ink = screen_ink(self.palette())
        p.fillRect(self.rect(), ink.bg)
        self.paint(p, QRectF(self.rect()).adjusted(12, 10, -12, -10), ink, self._px())
        if self.hasFocus():
            p.setPen(QPen(ink.accent, 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        p.end()

    def image(self, width: int | None = None) -> QImage:
        """The chart on white at twice the pixels, laid out for `width` (its own height)."""
        width = int(width or self.export_width(EXPORT_TEXT))
        height = int(self.content_height(width - 40, EXPORT_TEXT)) + 40
        img = QImage(width * EXPORT_SCALE, height * EXPORT_SCALE, QImage.Format.Format_ARGB32_Premultiplied)
        img.setDevicePixelRatio(EXPORT_SCALE)
        img.fill(PRINT_INK.bg)
        p = QPainter(img)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        p.setFont(self.font())
        self.paint(p, QRectF(20, 20, width - 40, height - 40), PRINT_INK, EXPORT_TEXT)
        p.end()
        return img

    def save_png(self, path: str | Path) -> Path:
        path = Path(path)
        if not self.image().save(str(path), "PNG"):
            raise AnnotaryError(f"{path}: cannot write the PNG there")
        return path

    # -- helpers ----------------------------------------------------------------------------------
    def _text(self, p: QPainter, rect: QRectF, text: str, font: QFont, color: QColor,
              align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter) -> None:
        p.setFont(font)
        p.setPen(color)
        elided = QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, rect.width())
        p.drawText(rect, int(align), elided)


class HeatmapChart(Chart):
    """Annotator x annotator agreement: the pair figure written in every cell, coloured by band."""

    def __init__(self, parent=None):
        super().__init__("Agreement heatmap", parent)
        self.data: HeatmapData | None = None
        self.empty = "No pair of annotators has rated the same items yet."

    def set_data(self, data: HeatmapData | None, empty: str = "") -> None:
        self.data = data
        if empty:
            self.empty = empty
        self.refit()

    def _layout(self, width: float, px: float, height: float | None = None):
        """(annotators, row label width, cell size, whether columns are numbered) for a width."""
        if not self.data:
            return 0, 0.0, px * 2.6, False
        n = len(self.data.ids)
        fm = QFontMetricsF(_font(self.font(), px))
        widest = max(fm.horizontalAdvance(x) for x in self.data.names)

        def cell_for(label_w: float) -> float:
            cell = min(px * 7.5, (width - label_w) / n)
            if height is not None:
                cell = min(cell, (height - px * 10) / n)
            return max(cell, px * 2.6)

        label_w = min(widest + px, width * 0.3)
        cell = cell_for(label_w)
        numbered = widest > cell - px * 0.5  # names too wide for their columns: columns get numbers
        if numbered:
            label_w = min(max(fm.horizontalAdvance(f"{n}. {x}") for x in self.data.names) + px, width * 0.35)
            cell = cell_for(label_w)
        return n, label_w, cell, numbered

    def export_width(self, px: float) -> float:
        if not self.data:
            return EXPORT_WIDTH
        n = len(self.data.ids)
        fm = QFontMetricsF(_font(self.font(), px))
        label_w = max(fm.horizontalAdvance(f"{n}. {x}") for x in self.data.names) + px
        small = QFontMetricsF(_font(self.font(), px * 0.9))
        legend = sum(small.horizontalAdvance(t) + px * 3.1 for t in LEGEND.values())
        title = QFontMetricsF(_font(self.font(), px * 1.15, bold=True)).horizontalAdvance(self._title())
        return min(2400, max(label_w + n * px * 6.5, legend, title) + 48)

    def _title(self) -> str:
        return f"{self.data.variable}: {self.data.figure} per pair of annotators"

    def content_height(self, width: float, px: float) -> float:
        if not self.data:
            return px * 4
        n, _, cell, _ = self._layout(width, px)
        return px * 2.2 + px * 2 + n * cell + px * 5.5

    def paint(self, p: QPainter, rect: QRectF, ink: Ink, px: float) -> None:
        base = self.font()
        title = _font(base, px * 1.15, bold=True)
        if not self.data:
            self._text(p, QRectF(rect.x(), rect.y(), rect.width(), px * 2), self.empty, _font(base, px), ink.muted)
            return
        d = self.data
        n, label_w, cell, numbered = self._layout(rect.width(), px, rect.height())
        y = rect.y()
        self._text(p, QRectF(rect.x(), y, rect.width(), px * 1.8), self._title(), title, ink.fg)
        y += px * 2.2
        x0 = rect.x() + label_w
        plain, small, bold = _font(base, px), _font(base, px * 0.8), _font(base, px * 1.1, bold=True)
        for j, name in enumerate(d.names):
            self._text(p, QRectF(x0 + j * cell, y, cell, px * 1.8), str(j + 1) if numbered else name, plain,
                       ink.fg, Qt.AlignmentFlag.AlignCenter)
        y += px * 2
        for i, name in enumerate(d.names):
            top = y + i * cell
            self._text(p, QRectF(rect.x(), top, label_w - px * 0.5, cell), f"{i + 1}. {name}" if numbered else name,
                       plain, ink.fg, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for j in range(n):
                box = QRectF(x0 + j * cell, top, cell, cell).adjusted(1, 1, -1, -1)
                value, shared = d.grid[i][j], d.shared[i][j]
                if i == j:
                    p.fillRect(box, ink.track)
                    self._text(p, box, "—", plain, ink.muted, Qt.AlignmentFlag.AlignCenter)
                    continue
                band = d.band(i, j)
                p.fillRect(box, QColor(BAND_COLORS[band]))
                if value is None:
                    p.fillRect(box, QBrush(QColor("#9a9a9a"), Qt.BrushStyle.BDiagPattern))
                ink_cell = QColor(CELL_INK)
                big = cell >= px * 4.2
                lines = [(num(value) if value is not None else "n/a", bold)]
                if big:
                    lines.append((band if value is not None else "no figure", small))
                    lines.append((f"n={shared}", small))
                heights = [QFontMetricsF(f).height() for _, f in lines]
                ty = box.center().y() - sum(heights) / 2
                for (text, font), h in zip(lines, heights, strict=True):
                    self._text(p, QRectF(box.x() + 2, ty, box.width() - 4, h), text, font, ink_cell,
                               Qt.AlignmentFlag.AlignCenter)
                    ty += h
        y += n * cell + px
        self._legend(p, QRectF(rect.x(), y, rect.width(), px * 4.5), ink, px)

    def _legend(self, p: QPainter, rect: QRectF, ink: Ink, px: float) -> None:
        plain, small = _font(self.font(), px * 0.9), _font(self.font(), px * 0.85)
        fm = QFontMetricsF(plain)
        x, y = rect.x(), rect.y()
        for band, text in LEGEND.items():
            sw = QRectF(x, y + px * 0.2, px * 1.2, px * 1.2)
            p.fillRect(sw, QColor(BAND_COLORS[band]))
            p.setPen(QPen(ink.line, 1))
            p.drawRect(sw)
            w = fm.horizontalAdvance(text)
            self._text(p, QRectF(x + px * 1.6, y, w + 2, px * 1.6), text, plain, ink.fg)
            x += px * 1.6 + w + px * 1.5
        self._text(p, QRectF(rect.x(), y + px * 2, rect.width(), px * 1.5),
                   "Each cell: the pair's figure, its band, and n, the number of items both rated.", small,
                   ink.muted)

    def description(self) -> str:
        if not self.data:
            return self.empty
        d = self.data
        pairs = [f"{d.names[i]} and {d.names[j]}: {num(d.grid[i][j])} ({d.band(i, j)}, "
                 + (f"95% {d.intervals[i][j]}, " if d.intervals and d.intervals[i][j] != "–" else "")
                 + f"{d.shared[i][j]} shared)"
                 for i in range(len(d.ids)) for j in range(i + 1, len(d.ids))]
        return f"{d.variable}, {d.figure}. " + "; ".join(pairs)


class BarChart(Chart):
    """Horizontal bars in titled groups, the value written at each bar; a bar may show its total."""

    def __init__(self, name: str, parent=None):
        super().__init__(name, parent)
        self.groups: list[BarGroup] = []
        self.empty = "Nothing to show yet."

    def set_groups(self, groups: list[BarGroup], empty: str = "") -> None:
        self.groups = [g for g in groups if g.bars]
        if empty:
            self.empty = empty
        self.refit()

    def export_width(self, px: float) -> float:
        if not self.groups:
            return EXPORT_WIDTH
        fm = QFontMetricsF(_font(self.font(), px))
        label_w = max(fm.horizontalAdvance(b.label) for g in self.groups for b in g.bars) + px
        text_w = max(fm.horizontalAdvance(b.text) for g in self.groups for b in g.bars) + px
        title = max(QFontMetricsF(_font(self.font(), px * 1.1, bold=True)).horizontalAdvance(g.title)
                    for g in self.groups)
        return min(EXPORT_WIDTH, max(label_w + px * 52 + text_w + px, title) + 48)

    def content_height(self, width: float, px: float) -> float:
        if not self.groups:
            return px * 4
        return sum(px * 2.4 + len(g.bars) * px * 2.2 + px * 2.6 for g in self.groups)

    def paint(self, p: QPainter, rect: QRectF, ink: Ink, px: float) -> None:
        base = self.font()
        plain, bold, small = _font(base, px), _font(base, px * 1.1, bold=True), _font(base, px * 0.8)
        if not self.groups:
            self._text(p, QRectF(rect.x(), rect.y(), rect.width(), px * 2), self.empty, plain, ink.muted)
            return
        fm = QFontMetricsF(plain)
        label_w = min(max(fm.horizontalAdvance(b.label) for g in self.groups for b in g.bars) + px,
                      rect.width() * 0.3)
        text_w = max(fm.horizontalAdvance(b.text) for g in self.groups for b in g.bars) + px
        area_x = rect.x() + label_w
        # long bars are hard to read against their labels: the axis stops at about 60 characters
        area_w = max(px * 4, min(rect.width() - label_w - text_w - px, px * 52))
        y = rect.y()
        for g in self.groups:
            self._text(p, QRectF(rect.x(), y, rect.width(), px * 1.9), g.title, bold, ink.fg)
            y += px * 2.4
            percent = g.maximum == 1.0
            top, step = (1.0, 0.25) if percent else nice_top(
                max([b.value or 0 for b in g.bars] + [b.total or 0 for b in g.bars]))
            rows_h = len(g.bars) * px * 2.2
            ticks = round(top / step)
            for k in range(ticks + 1):  # grid lines with their values under the group
                gx = area_x + area_w * k / ticks
                p.setPen(QPen(ink.line, 1, Qt.PenStyle.SolidLine if k == 0 else Qt.PenStyle.DotLine))
                p.drawLine(QPointF(gx, y), QPointF(gx, y + rows_h))
                tick = f"{100 * step * k:.0f}%" if percent else f"{step * k:g}"
                self._text(p, QRectF(gx - px * 3, y + rows_h + px * 0.2, px * 6, px * 1.3), tick, small, ink.muted,
                           Qt.AlignmentFlag.AlignCenter)
            for b in g.bars:
                row = QRectF(area_x, y + px * 0.3, area_w, px * 1.6)
                self._text(p, QRectF(rect.x(), y, label_w - px * 0.6, px * 2.2), b.label, plain, ink.fg,
                           Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                track = area_w * b.total / top if b.total else 0.0
                if track:
                    p.fillRect(QRectF(row.x(), row.y(), track, row.height()), ink.track)
                if b.value is None:
                    self._text(p, QRectF(row.x() + px * 0.4, y, area_w, px * 2.2), f"n/a · {b.text}", plain, ink.muted)
                    y += px * 2.2
                    continue
                w = area_w * b.value / top
                p.fillRect(QRectF(row.x(), row.y(), w, row.height()), ink.accent)
                end = row.x() + max(w, track) + px * 0.4  # the value is written after the bar (and its total)
                self._text(p, QRectF(end, y, rect.right() - end, px * 2.2), b.text, plain, ink.fg)
                y += px * 2.2
            y += px * 2.6

    def description(self) -> str:
        if not self.groups:
            return self.empty
        return " ".join(f"{g.title}: " + "; ".join(f"{b.label} {b.text}" for b in g.bars) + "."
                        for g in self.groups)

