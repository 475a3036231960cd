#include "uiformat.h"

#include <QCoreApplication>
#include <QLocale>
#include <cmath>

namespace OddJobs::Ui::Format {

namespace {

QString trimmedNumber(double value, int decimals)
{
    QString text = QLocale().toString(value, 'f', decimals);
    const QChar point = QLocale().decimalPoint().front();
    if (text.contains(point)) {
        while (text.endsWith(u'0'))
            text.chop(1);
        if (text.endsWith(point))
            text.chop(1);
    }
    return text;
}

} // namespace

QString duration(double seconds)
{
    if (!std::isfinite(seconds) || seconds < 0)
        return QString();
    if (seconds < 0.01)
        return QCoreApplication::translate("OddJobs::Ui::Format", "%1 ms")
            .arg(trimmedNumber(seconds * 1000, 1));
    if (seconds < 1)
        return QCoreApplication::translate("OddJobs::Ui::Format", "%1 ms")
            .arg(trimmedNumber(seconds * 1000, 0));
    if (seconds < 10)
        return QCoreApplication::translate("OddJobs::Ui::Format", "%1 s")
            .arg(trimmedNumber(seconds, 2));
    if (seconds < 60)
        return QCoreApplication::translate("OddJobs::Ui::Format", "%1 s")
            .arg(trimmedNumber(seconds, 1));
    const qint64 whole = qint64(std::llround(seconds));
    if (whole < 3600)
        return QCoreApplication::translate("OddJobs::Ui::Format", "%1 min %2 s")
            .arg(whole / 60)
            .arg(whole % 60);
    const qint64 minutes = whole / 60;
    return QCoreApplication::translate("OddJobs::Ui::Format", "%1 h %2 min")
        .arg(minutes / 60)
        .arg(minutes % 60);
}

QString count(qint64 value)
{
    return QLocale().toString(value);
}

QString compactCount(qint64 value)
{
    const qint64 magnitude = value < 0 ? -value : value;
    if (magnitude < 10000)
        return QLocale().toString(value);
    struct Unit
    {
        double size;
        const char *suffix;
    };
    static constexpr Unit units[] = { { 1e12, "T" }, { 1e9, "G" }, { 1e6, "M" }, { 1e3, "k" } };
    for (const Unit &unit : units) {
        if (double(magnitude) >= unit.size) {
            const double scaled = double(value) / unit.size;
            return trimmedNumber(scaled, std::abs(scaled) < 10 ? 1 : 0)
                + QLatin1StringView(unit.suffix);
        }
    }
    return QLocale().toString(value);
}

} // namespace OddJobs::Ui::Format
