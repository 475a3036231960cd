#include "support/testhelpers.h"

#include "support/pgcluster.h"

#include <QDateTime>
#include <QDebug>
#include <QDir>
#include <QMutex>
#include <QProcess>
#include <QTemporaryDir>
#include <atomic>

using namespace Qt::StringLiterals;

namespace OddJobs::Test {

bool isCi()
{
    const QString ci = qEnvironmentVariable("CI").trimmed().toLower();
    return !ci.isEmpty() && ci != "0"_L1 && ci != "false"_L1 && ci != "no"_L1;
}

QString postgresUnavailableReason()
{
    const PgCluster *cluster = PgCluster::shared();
    if (cluster->isRunning())
        return {};
    return cluster->errorString().isEmpty() ? u"the PostgreSQL test cluster is not running"_s
                                            : cluster->errorString();
}

QString freshSqliteUrl()
{
    static std::atomic<int> counter { 0 };
    static const QString dir = [] {
        QString base = qEnvironmentVariable("ODDJOBS_TEST_TMPDIR");
        if (base.isEmpty() || !QDir().mkpath(base))
            base = QDir::tempPath();
        // Function-local static: removed with everything in it when the process exits.
        static QTemporaryDir tmp(QDir(base).absoluteFilePath(u"oddjobs-sqlite-XXXXXX"_s));
        return tmp.isValid() ? tmp.path() : QString();
    }();
    if (dir.isEmpty())
        return {};
    return u"sqlite:%1/db_%2.sqlite"_s.arg(dir).arg(++counter);
}

QString freshPostgresUrl(QString *error)
{
    PgCluster *cluster = PgCluster::shared();
    if (!cluster->isRunning()) {
        if (error)
            *error = postgresUnavailableReason();
        return {};
    }
    return cluster->createDatabase(error);
}

QString freshUrl(const QString &backend, QString *error)
{
    if (backend == "sqlite"_L1) {
        QString url = freshSqliteUrl();
        if (url.isEmpty() && error)
            *error = u"cannot create a temporary directory for SQLite databases"_s;
        return url;
    }
    if (backend == "postgresql"_L1)
        return freshPostgresUrl(error);
    if (error)
        *error = u"unknown backend \"%1\" (sqlite or postgresql)"_s.arg(backend);
    return {};
}

void addBackendColumns()
{
    QTest::addColumn<QString>("backend");
}

void addBackendRows()
{
    QTest::newRow("sqlite") << u"sqlite"_s;
    QTest::newRow("postgresql") << u"postgresql"_s;
}

QString variantToString(const QVariant &value)
{
    if (!value.isValid())
        return u"<invalid>"_s;
    QMetaType type = value.metaType(); // debugStream() is not const in Qt 6.4
    switch (type.id()) {
    case QMetaType::QString:
        return value.toString();
    case QMetaType::QByteArray:
        return QString::fromUtf8(value.toByteArray());
    case QMetaType::QDateTime:
        return value.toDateTime().toString(Qt::ISODateWithMs);
    case QMetaType::QStringList:
    case QMetaType::QVariantList: {
        QStringList items;
        const QVariantList list = value.toList();
        for (const QVariant &item : list)
            items << variantToString(item);
        return u'[' + items.join(", "_L1) + u']';
    }
    case QMetaType::QVariantMap: {
        QStringList items;
        const QVariantMap map = value.toMap();
        for (auto it = map.cbegin(); it != map.cend(); ++it)
            items << it.key() + ": "_L1 + variantToString(it.value());
        return u'{' + items.join(", "_L1) + u'}';
    }
    default:
        break;
    }
    // Numbers, bools, dates, URLs and Q_ENUM values (by key) convert to text.
    if (value.canConvert<QString>()) {
        const QString text = value.toString();
        if (!text.isEmpty() || value.isNull())
            return text;
    }
    QString text;
    if (type.hasRegisteredDebugStreamOperator()) {
        QDebug debug(&text);
        debug.noquote().nospace();
        type.debugStream(debug, value.constData());
    } else {
        text = QString::fromLatin1(type.name()) + "(?)"_L1;
    }
    return text;
}

QString spyToString(const QSignalSpy &spy)
{
    QStringList emissions;
    for (const QList<QVariant> &arguments : spy) {
        QStringList texts;
        for (const QVariant &argument : arguments)
            texts << variantToString(argument);
        emissions << u'(' + texts.join(", "_L1) + u')';
    }
    return emissions.join(u' ');
}

QString CliRun::describe() const
{
    return u"\n  oddjobs %1\n  exit code %2\n  stdout: %3\n  stderr: %4"_s.arg(
        args.join(u' '), QString::number(exitCode), QString::fromUtf8(out.left(2000)),
        QString::fromUtf8(err.left(2000)));
}

CliRun runCli(const QString &binary, const QStringList &args, const QProcessEnvironment &env,
              const QProcessEnvironment &extraEnv, const QString &workingDir,
              const QByteArray &input, int timeoutMs)
{
    CliRun r;
    r.args = args;
    QProcess p;
    QProcessEnvironment fullEnv = env;
    const QStringList extraKeys = extraEnv.keys();
    for (const QString &key : extraKeys)
        fullEnv.insert(key, extraEnv.value(key));
    p.setProcessEnvironment(fullEnv);
    p.setWorkingDirectory(workingDir);
    p.start(binary, args);
    if (!p.waitForStarted(10000)) {
        r.exitCode = -2;
        r.err = p.errorString().toUtf8();
        return r;
    }
    if (!input.isEmpty())
        p.write(input);
    p.closeWriteChannel();
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished(5000);
        r.exitCode = -3;
    } else {
        r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    }
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

} // namespace OddJobs::Test
