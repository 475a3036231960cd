// oddjobs_test_claimer: a separate process for tst_claimconcurrency. Claims jobs of any type
// in batches until none is left, printing each claimed id on a line of its own and finally
// "done N". Exit codes: 0 ok, 1 a store error, 2 bad usage.
//
//   oddjobs_test_claimer --url URL --worker NAME --batch N [--complete] [--start-at MS]

#include "oddjobs/jobstore.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QTextStream>
#include <QThread>

using namespace OddJobs;
using namespace Qt::StringLiterals;

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QTextStream out(stdout);
    QTextStream err(stderr);

    QCommandLineParser parser;
    parser.addHelpOption();
    const QCommandLineOption urlOption(u"url"_s, u"Database URL."_s, u"url"_s);
    const QCommandLineOption workerOption(u"worker"_s, u"Worker name."_s, u"name"_s);
    const QCommandLineOption batchOption(u"batch"_s, u"Jobs per claim."_s, u"n"_s, u"1"_s);
    const QCommandLineOption completeOption(u"complete"_s,
                                            u"Mark each claimed batch successful."_s);
    const QCommandLineOption startAtOption(
        u"start-at"_s, u"Wait until this time (ms since the epoch) before claiming."_s, u"ms"_s);
    parser.addOptions({ urlOption, workerOption, batchOption, completeOption, startAtOption });
    parser.process(app);

    bool batchOk = false;
    const int batch = parser.value(batchOption).toInt(&batchOk);
    if (!parser.isSet(urlOption) || !parser.isSet(workerOption) || !batchOk || batch < 1) {
        err << "usage: oddjobs_test_claimer --url URL --worker NAME --batch N [--complete] "
               "[--start-at MS]\n";
        return 2;
    }

    const auto settings = ConnectionSettings::fromUrl(parser.value(urlOption));
    if (!settings) {
        err << "error: " << settings.error().toString() << '\n';
        return 2;
    }
    auto store = JobStore::open(settings.value());
    if (!store) {
        err << "error: " << store.error().toString() << '\n';
        return 1;
    }
    if (const auto schema = store.value()->checkSchema(); !schema) {
        err << "error: " << schema.error().toString() << '\n';
        return 1;
    }

    if (parser.isSet(startAtOption)) {
        const qint64 startAt = parser.value(startAtOption).toLongLong();
        const qint64 wait = startAt - QDateTime::currentMSecsSinceEpoch();
        if (wait > 0 && wait < 60000)
            QThread::msleep(static_cast<unsigned long>(wait));
    }

    ClaimRequest request;
    request.worker = parser.value(workerOption);
    request.anyType = true;
    request.limit = batch;
    const bool complete = parser.isSet(completeOption);

    qint64 claimedCount = 0;
    for (;;) {
        const auto claimed = store.value()->claim(request);
        if (!claimed) {
            out.flush();
            err << "error: " << claimed.error().toString() << '\n';
            return 1;
        }
        if (claimed->isEmpty())
            break;
        QList<JobOutcome> outcomes;
        for (const Job &job : *claimed) {
            out << job.id << '\n';
            ++claimedCount;
            JobOutcome outcome;
            outcome.id = job.id;
            outcome.success = true;
            outcomes << outcome;
        }
        if (complete) {
            const auto written = store.value()->complete(request.worker, outcomes);
            if (!written) {
                out.flush();
                err << "error: " << written.error().toString() << '\n';
                return 1;
            }
        }
    }
    out << "done " << claimedCount << '\n';
    out.flush();
    return 0;
}
