#include "throughputchart.h"

#include "uiformat.h"

#include <QEvent>
#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QToolTip>
#include <cmath>

using namespace Qt::StringLiterals;

namespace OddJobs::Ui {

namespace {

constexpr int Margin = 8;
constexpr int AxisGap = 6; // between tick labels and the plot
constexpr int MaxBarWidth = 42;

bool isDark(const QPalette &palette)
{
    return palette.color(QPalette::Base).lightness() < 128;
}

QColor withAlpha(QColor color, int alpha)
{
    color.setAlpha(alpha);
    return color;
}

// Label every k-th bucket, k one of these, so labels land on round times (every 30 s,
// 10 min, 3 h, ...) and never overlap.
constexpr int LabelSteps[] = { 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 240, 360, 720, 1440 };

} // namespace

ThroughputChart::ThroughputChart(QWidget *parent)
    : QWidget(parent)
{
    setMouseTracking(true);
    setAttribute(Qt::WA_OpaquePaintEvent, false);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
    setAccessibleName(tr("Throughput chart"));
    updateAccessibleDescription();
}

ThroughputChart::~ThroughputChart() = default;

void ThroughputChart::setBuckets(const QList<ThroughputBucket> &buckets, int bucketSeconds)
{
    m_buckets = buckets;
    m_bucketSeconds = qMax(1, bucketSeconds);
    m_totalSucceeded = 0;
    m_totalFailed = 0;
    m_peak = 0;
    for (const ThroughputBucket &b : std::as_const(m_buckets)) {
        m_totalSucceeded += b.succeeded;
        m_totalFailed += b.failed;
        m_peak = qMax(m_peak, b.succeeded + b.failed);
    }
    if (m_hovered >= m_buckets.size())
        m_hovered = -1;
    updateAccessibleDescription();
    update();
}

void ThroughputChart::setTitle(const QString &title)
{
    if (title == m_title)
        return;
    m_title = title;
    updateAccessibleDescription();
    update();
}

QSize ThroughputChart::sizeHint() const
{
    const QFontMetrics fm = fontMetrics();
    return { fm.averageCharWidth() * 70, fm.height() * 12 };
}

QSize ThroughputChart::minimumSizeHint() const
{
    const QFontMetrics fm = fontMetrics();
    return { fm.averageCharWidth() * 30, fm.height() * 6 };
}

qint64 ThroughputChart::niceStep(qint64 maxValue, int maxTicks)
{
    if (maxValue <= 0 || maxTicks < 1)
        return 1;
    const double raw = double(maxValue) / maxTicks;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double fraction = raw / magnitude;
    const double nice = fraction <= 1.0 ? 1.0
        : fraction <= 2.0               ? 2.0
        : fraction <= 5.0               ? 5.0
                                        : 10.0;
    qint64 step = qMax<qint64>(1, qint64(std::llround(nice * magnitude)));
    // Rounding of huge values must not leave more than maxTicks steps.
    while ((maxValue + step - 1) / step > maxTicks)
        step *= 2;
    return step;
}

QColor ThroughputChart::succeededColor(const QPalette &palette)
{
    return isDark(palette) ? QColor(0x5c, 0xb8, 0x6a) : QColor(0x3a, 0x9a, 0x4c);
}

QColor ThroughputChart::failedColor(const QPalette &palette)
{
    return isDark(palette) ? QColor(0xef, 0x6c, 0x6c) : QColor(0xd6, 0x3b, 0x3b);
}

ThroughputChart::Geometry ThroughputChart::geometry() const
{
    Geometry g;
    const QFontMetrics fm = fontMetrics();
    const QRectF area = QRectF(rect()).adjusted(Margin, Margin, -Margin, -Margin);
    const qreal headerHeight = fm.height() + 10;
    g.header = QRectF(area.left(), area.top(), area.width(), fm.height());
    const qreal top = area.top() + headerHeight + fm.height() / 2.0; // room for the top tick label
    const qreal bottom = area.bottom() - (fm.height() + 8); // the time labels
    const qreal plotHeight = qMax<qreal>(1, bottom - top);
    const int maxTicks = qBound(1, int(plotHeight / (fm.height() * 1.8)), 6);
    g.yStep = niceStep(m_peak, maxTicks);
    g.yMax = m_peak > 0 ? ((m_peak + g.yStep - 1) / g.yStep) * g.yStep : qint64(maxTicks);
    int labelWidth = 0;
    for (qint64 v = 0; v <= g.yMax; v += g.yStep)
        labelWidth = qMax(labelWidth, fm.horizontalAdvance(Format::compactCount(v)));
    const qreal left = area.left() + labelWidth + AxisGap;
    // Half a time label of room on the right, so the last label is never cut off.
    const qreal right = area.right() - fm.horizontalAdvance(u"00:00"_s) / 2.0;
    g.plot = QRectF(QPointF(left, top), QPointF(qMax(left + 1, right), top + plotHeight));
    return g;
}

QRectF ThroughputChart::slotRect(const Geometry &g, int index) const
{
    const qreal slot = g.plot.width() / qMax<qsizetype>(1, m_buckets.size());
    return QRectF(g.plot.left() + index * slot, g.plot.top(), slot, g.plot.height());
}

int ThroughputChart::bucketAt(const QPoint &pos) const
{
    if (m_buckets.isEmpty())
        return -1;
    const Geometry g = geometry();
    if (pos.y() < g.plot.top() - 4 || pos.y() > g.plot.bottom() + 4 || pos.x() < g.plot.left()
        || pos.x() >= g.plot.right())
        return -1;
    const qreal slot = g.plot.width() / m_buckets.size();
    const int index = int((pos.x() - g.plot.left()) / slot);
    return index >= 0 && index < m_buckets.size() ? index : -1;
}

QString ThroughputChart::timeLabel(const QDateTime &time) const
{
    const QDateTime local = time.toLocalTime();
    if (m_bucketSeconds < 60)
        return local.toString(u"HH:mm:ss"_s);
    if (qint64(m_bucketSeconds) * m_buckets.size() > 2 * 86400)
        return QLocale().toString(local.date(), u"d MMM"_s);
    return local.toString(u"HH:mm"_s);
}

QString ThroughputChart::bucketToolTip(int index) const
{
    if (index < 0 || index >= m_buckets.size())
        return QString();
    const ThroughputBucket &b = m_buckets.at(index);
    const QDateTime from = b.start.toLocalTime();
    const QDateTime to = from.addSecs(m_bucketSeconds);
    const QString format = m_bucketSeconds < 60 ? u"HH:mm:ss"_s : u"HH:mm"_s;
    QString interval = from.toString(format) + u" – "_s + to.toString(format);
    if (from.date() != QDate::currentDate())
        interval = QLocale().toString(from.date(), QLocale::ShortFormat) + u' ' + interval;
    return tr("%1\nSucceeded: %2\nFailed: %3", "chart tooltip: interval and counts")
        .arg(interval, Format::count(b.succeeded), Format::count(b.failed));
}

void ThroughputChart::updateAccessibleDescription()
{
    if (m_buckets.isEmpty()) {
        setAccessibleDescription(tr("No data."));
        return;
    }
    setAccessibleDescription(tr("%1. %2 intervals of %3: %4 succeeded, %5 failed; the busiest "
                                "interval had %6 finished jobs.")
                                 .arg(m_title.isEmpty() ? tr("Throughput") : m_title)
                                 .arg(m_buckets.size())
                                 .arg(Format::duration(m_bucketSeconds),
                                      Format::count(m_totalSucceeded), Format::count(m_totalFailed),
                                      Format::count(m_peak)));
}

void ThroughputChart::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    const QPalette pal = palette();
    const QFontMetrics fm = fontMetrics();
    const Geometry g = geometry();
    const QColor text = pal.color(QPalette::WindowText);
    const QColor dim = pal.color(QPalette::PlaceholderText);
    const QColor ok = succeededColor(pal);
    const QColor bad = failedColor(pal);

    // Header: the title on the left, the legend with the period's totals on the right.
    {
        QFont titleFont = font();
        titleFont.setBold(true);
        p.setFont(titleFont);
        p.setPen(text);
        const QFontMetrics tfm(titleFont);
        qreal x = g.header.right();
        const qreal swatch = qRound(fm.height() * 0.6);
        struct Entry
        {
            QString label;
            QColor color;
        };
        const Entry entries[] = {
            { tr("Failed %1", "chart legend with total").arg(Format::count(m_totalFailed)), bad },
            { tr("Succeeded %1", "chart legend with total").arg(Format::count(m_totalSucceeded)),
              ok },
        };
        p.setFont(font());
        qreal legendLeft = x;
        for (const Entry &entry : entries) {
            const int w = fm.horizontalAdvance(entry.label);
            x -= w;
            p.setPen(text);
            p.drawText(QRectF(x, g.header.top(), w, g.header.height()),
                       Qt::AlignLeft | Qt::AlignVCenter, entry.label);
            x -= swatch + 5;
            p.setPen(Qt::NoPen);
            p.setBrush(entry.color);
            p.setRenderHint(QPainter::Antialiasing, true);
            p.drawRoundedRect(QRectF(x, g.header.center().y() - swatch / 2, swatch, swatch), 2, 2);
            p.setRenderHint(QPainter::Antialiasing, false);
            legendLeft = x;
            x -= 14;
        }
        p.setFont(titleFont);
        p.setPen(text);
        const QRectF titleRect(g.header.left(), g.header.top(),
                               qMax<qreal>(0, legendLeft - 12 - g.header.left()),
                               g.header.height());
        p.drawText(titleRect, Qt::AlignLeft | Qt::AlignVCenter,
                   tfm.elidedText(m_title, Qt::ElideRight, int(titleRect.width())));
        p.setFont(font());
    }

    // Grid and y-axis labels.
    const auto yFor = [&g](qint64 value) {
        return g.plot.bottom() - double(value) / double(g.yMax) * g.plot.height();
    };
    const QColor grid = withAlpha(text, isDark(pal) ? 40 : 28);
    for (qint64 v = 0; v <= g.yMax; v += g.yStep) {
        const qreal y = std::round(yFor(v)) + 0.5;
        p.setPen(QPen(v == 0 ? withAlpha(text, 110) : grid, 1));
        p.drawLine(QPointF(g.plot.left(), y), QPointF(g.plot.right(), y));
        p.setPen(dim);
        const QRectF label(0, y - fm.height() / 2.0, g.plot.left() - AxisGap, fm.height());
        p.drawText(label, Qt::AlignRight | Qt::AlignVCenter, Format::compactCount(v));
    }

    if (m_buckets.isEmpty() || m_peak == 0) {
        p.setPen(dim);
        p.drawText(g.plot, Qt::AlignCenter,
                   m_buckets.isEmpty() ? tr("No data") : tr("No jobs finished in this period"));
    }
    if (m_buckets.isEmpty())
        return;

    const int n = int(m_buckets.size());
    const qreal slot = g.plot.width() / n;

    // Hover band behind the bars.
    if (m_hovered >= 0) {
        const QRectF band = slotRect(g, m_hovered);
        p.fillRect(band, withAlpha(pal.color(QPalette::Highlight), isDark(pal) ? 70 : 45));
    }

    // Bars: succeeded at the bottom, failed stacked on top. Any non-zero count stays visible.
    const qreal gap = slot >= 4 ? qMin(slot * 0.3, 10.0) : 0;
    const qreal barWidth = qMin<qreal>(slot - gap, MaxBarWidth);
    const auto heightOf = [&g](qint64 count) {
        if (count <= 0)
            return 0.0;
        return qMax(2.0, double(count) / double(g.yMax) * g.plot.height());
    };
    for (int i = 0; i < n; ++i) {
        const ThroughputBucket &b = m_buckets.at(i);
        const qreal x = g.plot.left() + i * slot + (slot - barWidth) / 2;
        const qreal left = std::round(x);
        const qreal width = qMax<qreal>(1, std::round(x + barWidth) - left);
        const qreal okHeight = std::round(heightOf(b.succeeded));
        const qreal badHeight = std::round(heightOf(b.failed));
        const qreal base = std::round(g.plot.bottom());
        if (okHeight > 0)
            p.fillRect(QRectF(left, base - okHeight, width, okHeight), ok);
        if (badHeight > 0)
            p.fillRect(QRectF(left, base - okHeight - badHeight, width, badHeight), bad);
    }

    // Time axis: ticks and labels on round times.
    const QString sample = timeLabel(m_buckets.first().start);
    const int needed
        = int(std::ceil((fm.horizontalAdvance(sample) + 16) / qMax<qreal>(slot, 0.01)));
    int every = LabelSteps[std::size(LabelSteps) - 1];
    for (int step : LabelSteps) {
        if (step >= needed) {
            every = step;
            break;
        }
    }
    p.setPen(dim);
    for (int i = 0; i < n; ++i) {
        const qint64 index = m_buckets.at(i).start.toSecsSinceEpoch() / m_bucketSeconds;
        if (index % every != 0)
            continue;
        const qreal x = std::round(g.plot.left() + i * slot) + 0.5;
        p.setPen(withAlpha(text, 110));
        p.drawLine(QPointF(x, g.plot.bottom()), QPointF(x, g.plot.bottom() + 4));
        const QString label = timeLabel(m_buckets.at(i).start);
        const int w = fm.horizontalAdvance(label);
        qreal lx = x - w / 2.0;
        lx = qBound<qreal>(0, lx, width() - w);
        p.setPen(dim);
        p.drawText(QRectF(lx, g.plot.bottom() + 6, w, fm.height()), Qt::AlignCenter, label);
    }
}

void ThroughputChart::mouseMoveEvent(QMouseEvent *event)
{
    const int index = bucketAt(event->position().toPoint());
    if (index != m_hovered) {
        m_hovered = index;
        update();
        if (index < 0)
            QToolTip::hideText();
    }
    QWidget::mouseMoveEvent(event);
}

void ThroughputChart::leaveEvent(QEvent *event)
{
    if (m_hovered != -1) {
        m_hovered = -1;
        update();
    }
    QWidget::leaveEvent(event);
}

bool ThroughputChart::event(QEvent *event)
{
    if (event->type() == QEvent::ToolTip) {
        auto *help = static_cast<QHelpEvent *>(event);
        const int index = bucketAt(help->pos());
        if (index < 0) {
            QToolTip::hideText();
            event->ignore();
            return true;
        }
        QToolTip::showText(help->globalPos(), bucketToolTip(index), this,
                           slotRect(geometry(), index).toRect());
        return true;
    }
    return QWidget::event(event);
}

void ThroughputChart::changeEvent(QEvent *event)
{
    switch (event->type()) {
    case QEvent::PaletteChange:
    case QEvent::FontChange:
    case QEvent::StyleChange:
    case QEvent::LanguageChange:
        updateAccessibleDescription();
        update();
        break;
    default:
        break;
    }
    QWidget::changeEvent(event);
}

} // namespace OddJobs::Ui
