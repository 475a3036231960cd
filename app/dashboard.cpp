#include "dashboard.h"

#include "common.h"
#include "connectiondialog.h"
#include "demohandlers.h"
#include "mainwindow.h"
#include "storeclient.h"

#include <QApplication>
#include <QLibraryInfo>
#include <QLocale>
#include <QMessageBox>
#include <QSettings>
#include <QTimer>
#include <QTranslator>

using namespace Qt::StringLiterals;
using namespace OddJobs;

namespace {
void installTranslations(QApplication &app, const QString &language)
{
    const QLocale locale = language.isEmpty() ? QLocale::system() : QLocale(language);
    QLocale::setDefault(locale);
    auto *qt = new QTranslator(&app);
    if (qt->load(locale, u"qtbase"_s, u"_"_s, QLibraryInfo::path(QLibraryInfo::TranslationsPath)))
        QApplication::installTranslator(qt);
    auto *ours = new QTranslator(&app);
    if (ours->load(locale, u"oddjobs"_s, u"_"_s, u":/i18n"_s))
        QApplication::installTranslator(ours);
}
} // namespace

int runDashboard(int &argc, char **argv, const AppOptions &options)
{
    QApplication app(argc, argv);
    QApplication::setApplicationDisplayName(u"OddJobs"_s);
    QApplication::setDesktopFileName(u"org.oddjobs.OddJobs"_s);
    installTranslations(app, options.language);

    auto handlers = buildHandlers(options);
    if (!handlers)
        return fail(handlers.error());
    Ui::MainWindow window(*handlers, runnerConfig(options),
                          options.autoStartWorker && !options.monitorOnly);
    QString url = options.databaseUrl;
    QString table = options.table;
    if (url.isEmpty() && qEnvironmentVariableIsEmpty("ODDJOBS_DATABASE_URL")
        && options.configFile.isEmpty()) {
        // Reopen what was open last time; else the default SQLite file.
        QSettings settings;
        url = settings.value(u"lastDatabase"_s).toString();
        if (!url.isEmpty())
            table = settings.value(u"lastTable"_s, table).toString();
    }
    bool demoPending = options.demo;
    QObject::connect(
        &window, &Ui::MainWindow::databaseOpened, &window, [&](bool ok, const QString &message) {
            if (!ok) {
                QMessageBox::warning(
                    &window, QApplication::translate("Dashboard", "Cannot open the database"),
                    message);
                return;
            }
            if (demoPending) {
                demoPending = false;
                window.client()->call<int>([](JobStore &store) { return enqueueDemoJobs(store); },
                                           &window,
                                           [&window](const Result<int> &) { window.refreshNow(); });
            }
        });
    QString error;
    if (!window.openDatabase(url, table, options.monitorOnly, &error)) {
        err() << "oddjobs: " << error << Qt::endl;
        return 2;
    }
    window.show();
    return QApplication::exec();
}
