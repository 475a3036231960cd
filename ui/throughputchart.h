#pragma once

#include "oddjobs/job.h"
#include "oddjobs_ui_export.h"

#include <QList>
#include <QRectF>
#include <QWidget>

namespace OddJobs::Ui {

// Jobs finished per interval, succeeded and failed stacked in one bar per bucket, with a
// time axis, rounded y ticks, a legend with the period's totals and a tooltip per bar.
// Painted with QPainter in the widget's palette, so it follows light and dark themes.
class ODDJOBS_UI_EXPORT ThroughputChart : public QWidget
{
    Q_OBJECT
public:
    explicit ThroughputChart(QWidget *parent = nullptr);
    ~ThroughputChart() override;

    // Buckets oldest first, each `bucketSeconds` long (as JobStore::throughput returns them).
    void setBuckets(const QList<ThroughputBucket> &buckets, int bucketSeconds);
    const QList<ThroughputBucket> &buckets() const { return m_buckets; }
    int bucketSeconds() const { return m_bucketSeconds; }

    // Drawn at the top left, next to the legend.
    void setTitle(const QString &title);
    QString title() const { return m_title; }

    // The bucket under `pos` (widget coordinates), or -1.
    int bucketAt(const QPoint &pos) const;
    // What the tooltip shows for bucket `index`: its interval and counts.
    QString bucketToolTip(int index) const;
    int hoveredBucket() const { return m_hovered; }

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

    // The step between y-axis ticks: 1, 2 or 5 times a power of ten, at least 1, such that
    // [0, maxValue] needs at most `maxTicks` steps.
    static qint64 niceStep(qint64 maxValue, int maxTicks);
    // Colours for the series, readable on the palette's base colour (light or dark).
    static QColor succeededColor(const QPalette &palette);
    static QColor failedColor(const QPalette &palette);

protected:
    void paintEvent(QPaintEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void leaveEvent(QEvent *event) override;
    void changeEvent(QEvent *event) override;
    bool event(QEvent *event) override;

private:
    struct Geometry
    {
        QRectF header; // title and legend
        QRectF plot; // the bars' area
        qint64 yMax = 1;
        qint64 yStep = 1;
    };
    Geometry geometry() const;
    QRectF slotRect(const Geometry &g, int index) const;
    QString timeLabel(const QDateTime &time) const;
    void updateAccessibleDescription();

    QList<ThroughputBucket> m_buckets;
    int m_bucketSeconds = 60;
    QString m_title;
    int m_hovered = -1;
    qint64 m_totalSucceeded = 0;
    qint64 m_totalFailed = 0;
    qint64 m_peak = 0;
};

} // namespace OddJobs::Ui
