#include "logmodel.h"

#include "uiformat.h"

#include <QGuiApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QPainter>
#include <QPainterPath>
#include <QPalette>
#include <QPixmap>

using namespace Qt::StringLiterals;

namespace OddJobs::Ui {

namespace {

bool isDark(const QPalette &palette)
{
    return palette.color(QPalette::Base).lightness() < 128;
}

QString jsonValueText(const QJsonValue &value)
{
    if (value.isString())
        return value.toString();
    if (value.isObject())
        return QString::fromUtf8(QJsonDocument(value.toObject()).toJson(QJsonDocument::Compact));
    if (value.isArray())
        return QString::fromUtf8(QJsonDocument(value.toArray()).toJson(QJsonDocument::Compact));
    return value.toVariant().toString();
}

} // namespace

LogModel::LogModel(QObject *parent)
    : QAbstractTableModel(parent)
{
    m_flushTimer.setSingleShot(true);
    m_flushTimer.setInterval(DefaultFlushIntervalMs);
    connect(&m_flushTimer, &QTimer::timeout, this, &LogModel::flushPending);
}

LogModel::~LogModel() = default;

void LogModel::setCapacity(int capacity)
{
    capacity = qMax(1, capacity);
    if (capacity == m_capacity)
        return;
    if (m_count > capacity)
        removeOldest(m_count - capacity);
    if (m_pending.size() > capacity) {
        m_discarded += m_pending.size() - capacity;
        m_pending.remove(0, m_pending.size() - capacity);
    }
    m_capacity = capacity;
    linearize();
}

void LogModel::setFlushInterval(int ms)
{
    m_flushTimer.setInterval(qMax(0, ms));
}

void LogModel::append(const LogEvent &event)
{
    // A burst larger than the buffer keeps only its newest events.
    if (m_pending.size() >= m_capacity) {
        m_pending.removeFirst();
        ++m_discarded;
    }
    m_pending.append(event);
    if (!m_flushTimer.isActive())
        m_flushTimer.start();
}

void LogModel::flushPending()
{
    m_flushTimer.stop();
    if (m_pending.isEmpty())
        return;
    QList<LogEvent> incoming;
    incoming.swap(m_pending);
    const int added = int(incoming.size()); // never above m_capacity, see append()
    const int overflow = m_count + added - m_capacity;
    if (overflow > 0)
        removeOldest(overflow);

    beginInsertRows({}, m_count, m_count + added - 1);
    for (LogEvent &event : incoming) {
        if (m_ring.size() < m_capacity) {
            // Growing: the ring has not wrapped yet, so m_head is 0 and m_count its size.
            Q_ASSERT(m_head == 0 && m_count == m_ring.size());
            m_ring.append(std::move(event));
        } else {
            slot(m_count) = std::move(event);
        }
        ++m_count;
    }
    endInsertRows();
}

void LogModel::clear()
{
    m_flushTimer.stop();
    m_pending.clear();
    m_discarded = 0;
    if (m_count == 0) {
        m_ring.clear();
        m_head = 0;
        return;
    }
    beginRemoveRows({}, 0, m_count - 1);
    m_ring.clear();
    m_head = 0;
    m_count = 0;
    endRemoveRows();
}

const LogEvent &LogModel::event(int row) const
{
    Q_ASSERT(row >= 0 && row < m_count);
    return slot(row);
}

void LogModel::removeOldest(int count)
{
    count = qMin(count, m_count);
    if (count <= 0)
        return;
    beginRemoveRows({}, 0, count - 1);
    if (m_ring.size() < m_capacity) {
        // Not wrapped yet: QList drops leading elements without moving the rest.
        m_ring.remove(0, count);
    } else {
        for (int row = 0; row < count; ++row)
            slot(row) = LogEvent(); // release the strings now, not when overwritten
        m_head = (m_head + count) % int(m_ring.size());
    }
    m_count -= count;
    m_discarded += count;
    endRemoveRows();
}

void LogModel::linearize()
{
    QList<LogEvent> ring;
    ring.reserve(m_count);
    for (int row = 0; row < m_count; ++row)
        ring.append(std::move(slot(row)));
    m_ring = std::move(ring);
    m_head = 0;
}

int LogModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : m_count;
}

int LogModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString LogModel::messageText(const LogEvent &event) const
{
    QString text = event.message;
    if (event.durationMs) {
        if (!text.isEmpty())
            text += u" · "_s;
        text += tr("took %1", "log message suffix: how long the job ran")
                    .arg(durationText(*event.durationMs));
    }
    return text;
}

QVariant LogModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const LogEvent &e = slot(index.row());
    const int column = index.column();
    switch (role) {
    case Qt::DisplayRole:
        switch (column) {
        case TimeColumn:
            return e.time.toLocalTime().toString(u"HH:mm:ss.zzz"_s);
        case LevelColumn:
            return levelLabel(e.level);
        case EventColumn:
            return kindLabel(e.kind);
        case JobColumn:
            return e.job ? QString::number(e.job->id) : QString();
        case TypeColumn:
            return e.job ? e.job->type() : QString();
        case MessageColumn:
            return messageText(e);
        }
        break;
    case Qt::ToolTipRole:
        switch (column) {
        case TimeColumn:
            return e.time.toLocalTime().toString(Qt::ISODateWithMs);
        case EventColumn:
            return logEventKindName(e.kind);
        case JobColumn:
        case TypeColumn:
            if (e.job) {
                return tr("Job %1 (%2), attempt %3, queue %4")
                    .arg(e.job->id)
                    .arg(e.job->type())
                    .arg(e.job->attempts)
                    .arg(e.job->queue);
            }
            break;
        case MessageColumn: {
            QStringList lines;
            if (!e.message.isEmpty())
                lines << e.message;
            if (e.durationMs)
                lines << tr("Duration: %1").arg(durationText(*e.durationMs));
            if (!e.worker.isEmpty())
                lines << tr("Worker: %1").arg(e.worker);
            for (auto it = e.details.begin(); it != e.details.end(); ++it)
                lines << it.key() + u": "_s + jsonValueText(it.value());
            if (!lines.isEmpty())
                return lines.join(u'\n');
            break;
        }
        default:
            break;
        }
        break;
    case Qt::DecorationRole:
        if (column == LevelColumn) {
            const QPalette palette = QGuiApplication::palette();
            const int key = int(e.level) * 2 + (isDark(palette) ? 1 : 0);
            if (m_iconCache.size() <= key)
                m_iconCache.resize(8);
            if (m_iconCache[key].isNull())
                m_iconCache[key] = levelIcon(e.level, palette);
            return m_iconCache[key];
        }
        break;
    case Qt::ForegroundRole:
        // Info is the common case: only its icon is coloured, so warnings and errors stand out.
        if (column == LevelColumn && e.level != LogLevel::Info)
            return levelColor(e.level, QGuiApplication::palette());
        if (e.level == LogLevel::Debug)
            return QGuiApplication::palette().color(QPalette::PlaceholderText);
        if (e.level == LogLevel::Error && column == MessageColumn)
            return levelColor(e.level, QGuiApplication::palette());
        break;
    case Qt::TextAlignmentRole:
        return int(Qt::AlignLeft | Qt::AlignVCenter);
    case LevelRole:
        return int(e.level);
    case KindRole:
        return int(e.kind);
    case TimeRole:
        return e.time;
    case JobIdRole:
        return e.job ? QVariant(e.job->id) : QVariant();
    case SortRole:
        switch (column) {
        case TimeColumn:
            return e.time.toMSecsSinceEpoch();
        case LevelColumn:
            return int(e.level);
        case JobColumn:
            return e.job ? e.job->id : qint64(-1);
        default:
            return data(index, Qt::DisplayRole);
        }
    default:
        break;
    }
    return {};
}

QVariant LogModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case TimeColumn:
            return tr("Time", "log column");
        case LevelColumn:
            return tr("Level", "log column: severity");
        case EventColumn:
            return tr("Event", "log column: kind of event");
        case JobColumn:
            return tr("Job", "log column: job id");
        case TypeColumn:
            return tr("Type", "log column: job type");
        case MessageColumn:
            return tr("Message", "log column");
        }
    } else if (role == Qt::TextAlignmentRole) {
        return int(Qt::AlignLeft | Qt::AlignVCenter);
    }
    return {};
}

QString LogModel::levelLabel(LogLevel level)
{
    switch (level) {
    case LogLevel::Debug:
        return tr("Debug", "log level");
    case LogLevel::Info:
        return tr("Info", "log level");
    case LogLevel::Warning:
        return tr("Warning", "log level");
    case LogLevel::Error:
        return tr("Error", "log level");
    }
    return QString();
}

QString LogModel::kindLabel(LogEventKind kind)
{
    switch (kind) {
    case LogEventKind::JobStart:
        return tr("Started", "log event: a job started");
    case LogEventKind::JobSuccess:
        return tr("Succeeded", "log event: a job succeeded");
    case LogEventKind::JobFailed:
        return tr("Failed", "log event: a job failed and will be retried");
    case LogEventKind::JobPermanentlyFailed:
        return tr("Failed permanently", "log event: a job failed with no attempts left");
    case LogEventKind::JobTimeout:
        return tr("Timed out", "log event: a job hit its deadline");
    case LogEventKind::JobCancelled:
        return tr("Cancelled", "log event: a job was cancelled");
    case LogEventKind::JobLockLost:
        return tr("Lock lost", "log event: the job's row changed under the worker");
    case LogEventKind::JobRescued:
        return tr("Rescued", "log event: a dead worker's job was moved back");
    case LogEventKind::JobHandedBack:
        return tr("Handed back", "log event: shutdown returned the job to the queue");
    case LogEventKind::Poll:
        return tr("Poll", "log event: the runner looked for work");
    case LogEventKind::StateChanged:
        return tr("Worker state", "log event: the runner changed state");
    case LogEventKind::DatabaseError:
        return tr("Database error", "log event");
    case LogEventKind::Reconnected:
        return tr("Reconnected", "log event: the database connection is back");
    case LogEventKind::Text:
        return tr("Message", "log event: free text");
    }
    return QString();
}

QList<LogEventKind> LogModel::allKinds()
{
    QList<LogEventKind> kinds;
    for (int k = int(LogEventKind::JobStart); k <= int(LogEventKind::Text); ++k)
        kinds << LogEventKind(k);
    return kinds;
}

QList<LogLevel> LogModel::allLevels()
{
    return { LogLevel::Debug, LogLevel::Info, LogLevel::Warning, LogLevel::Error };
}

QColor LogModel::levelColor(LogLevel level, const QPalette &palette)
{
    const bool dark = isDark(palette);
    switch (level) {
    case LogLevel::Debug:
        return palette.color(QPalette::PlaceholderText);
    case LogLevel::Info:
        return dark ? QColor(0x64, 0xb5, 0xf6) : QColor(0x15, 0x65, 0xc0);
    case LogLevel::Warning:
        return dark ? QColor(0xff, 0xb7, 0x4d) : QColor(0xa1, 0x5c, 0x00);
    case LogLevel::Error:
        return dark ? QColor(0xef, 0x6c, 0x6c) : QColor(0xc6, 0x28, 0x28);
    }
    return palette.color(QPalette::Text);
}

QIcon LogModel::levelIcon(LogLevel level, const QPalette &palette)
{
    // Distinct shapes as well as colours, so the level reads without colour vision.
    constexpr int Size = 16;
    constexpr qreal Ratio = 2.0;
    QPixmap pixmap(int(Size * Ratio), int(Size * Ratio));
    pixmap.setDevicePixelRatio(Ratio);
    pixmap.fill(Qt::transparent);
    QPainter p(&pixmap);
    p.setRenderHint(QPainter::Antialiasing);
    const QColor color = levelColor(level, palette);
    const QColor mark = isDark(palette) ? QColor(0x1e, 0x1e, 0x1e) : QColor(Qt::white);
    const QRectF box(2.5, 2.5, 11, 11);
    switch (level) {
    case LogLevel::Debug:
        p.setPen(QPen(color, 1.5));
        p.setBrush(Qt::NoBrush);
        p.drawEllipse(box.adjusted(1.5, 1.5, -1.5, -1.5));
        break;
    case LogLevel::Info:
        p.setPen(Qt::NoPen);
        p.setBrush(color);
        p.drawEllipse(box);
        p.setPen(QPen(mark, 1.6, Qt::SolidLine, Qt::RoundCap));
        p.drawPoint(QPointF(8, 5.6));
        p.drawLine(QPointF(8, 7.6), QPointF(8, 10.6));
        break;
    case LogLevel::Warning: {
        QPainterPath triangle;
        triangle.moveTo(8, 1.5);
        triangle.lineTo(14.8, 13.8);
        triangle.lineTo(1.2, 13.8);
        triangle.closeSubpath();
        p.setPen(QPen(color, 1.0, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
        p.setBrush(color);
        p.drawPath(triangle);
        p.setPen(QPen(mark, 1.6, Qt::SolidLine, Qt::RoundCap));
        p.drawLine(QPointF(8, 5.8), QPointF(8, 9.2));
        p.drawPoint(QPointF(8, 11.6));
        break;
    }
    case LogLevel::Error:
        p.setPen(Qt::NoPen);
        p.setBrush(color);
        p.drawEllipse(box);
        p.setPen(QPen(mark, 1.6, Qt::SolidLine, Qt::RoundCap));
        p.drawLine(QPointF(5.9, 5.9), QPointF(10.1, 10.1));
        p.drawLine(QPointF(10.1, 5.9), QPointF(5.9, 10.1));
        break;
    }
    p.end();
    return QIcon(pixmap);
}

QString LogModel::durationText(qint64 ms)
{
    return Format::duration(double(ms) / 1000.0);
}

} // namespace OddJobs::Ui
