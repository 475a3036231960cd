#pragma once

#include "oddjobs_ui_export.h"

#include <QString>

// Number and duration texts shared by the dashboard's models and charts, so a duration reads
// the same in the log pane, the statistics table and a chart's tooltip.
namespace OddJobs::Ui::Format {

// "0.4 ms", "85 ms", "1.25 s", "12.5 s", "3 min 5 s", "2 h 10 min", in the current locale.
ODDJOBS_UI_EXPORT QString duration(double seconds);
// A count with the locale's digit grouping: "1,234,567".
ODDJOBS_UI_EXPORT QString count(qint64 value);
// A short count for axis labels: "950", "9,500", "12k", "1.5M", "3G", "1.2T".
ODDJOBS_UI_EXPORT QString compactCount(qint64 value);

} // namespace OddJobs::Ui::Format
