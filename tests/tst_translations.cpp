// The German catalogue: every message in translations/oddjobs_de.ts is finished and keeps its
// placeholders, HTML tags and mnemonic; the compiled catalogue under :/i18n matches the .ts
// file; and the dashboard comes up in German, with no English left over, no duplicate
// mnemonics and a toolbar and filter bar that fit.
//
// With $ODDJOBS_SCREENSHOT_DIR set, the German main window and dialogs are also saved there
// as PNG files (dashboard-de.png, jobdialog-de.png, connectiondialog-de.png and
// menu-<title>-de.png) for a look.

#include "connectiondialog.h"
#include "jobdialog.h"
#include "jobtablemodel.h"
#include "logmodel.h"
#include "mainwindow.h"

#include <QAbstractButton>
#include <QAbstractItemView>
#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QHash>
#include <QJsonObject>
#include <QLabel>
#include <QLibraryInfo>
#include <QLineEdit>
#include <QLocale>
#include <QMenu>
#include <QMenuBar>
#include <QRegularExpression>
#include <QSet>
#include <QSpinBox>
#include <QStandardPaths>
#include <QStyle>
#include <QTest>
#include <QToolBar>
#include <QToolButton>
#include <QTranslator>
#include <QXmlStreamReader>
#include <memory>

#ifndef ODDJOBS_TS_FILE
#error "ODDJOBS_TS_FILE must name translations/oddjobs_de.ts"
#endif

using namespace Qt::StringLiterals;
using namespace OddJobs;
using namespace OddJobs::Ui;

namespace {

struct TsMessage
{
    QString context;
    QString source;
    QString comment;
    bool numerus = false;
    QString type; // the translation's type attribute: "unfinished", "vanished", …
    QStringList translations; // one, or one per numerus form
    qint64 line = 0;

    bool isObsolete() const { return type == u"vanished" || type == u"obsolete"; }
    QString where() const
    {
        return u"line %1: %2 \"%3\"%4"_s.arg(line).arg(
            context, source, comment.isEmpty() ? QString() : u" (%1)"_s.arg(comment));
    }
};

TsMessage readMessage(QXmlStreamReader &xml, const QString &context)
{
    TsMessage m;
    m.context = context;
    m.line = xml.lineNumber();
    m.numerus = xml.attributes().value(u"numerus"_s) == u"yes";
    while (xml.readNextStartElement()) {
        if (xml.name() == u"source") {
            m.source = xml.readElementText();
        } else if (xml.name() == u"comment") {
            m.comment = xml.readElementText();
        } else if (xml.name() == u"translation") {
            m.type = xml.attributes().value(u"type"_s).toString();
            if (m.numerus) {
                while (xml.readNextStartElement()) {
                    if (xml.name() == u"numerusform")
                        m.translations << xml.readElementText();
                    else
                        xml.skipCurrentElement();
                }
            } else {
                m.translations << xml.readElementText(QXmlStreamReader::IncludeChildElements);
            }
        } else {
            xml.skipCurrentElement(); // location, extracomment, translatorcomment, …
        }
    }
    return m;
}

QList<TsMessage> readTs(const QString &path, QString *error)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        *error = u"cannot open %1: %2"_s.arg(path, file.errorString());
        return {};
    }
    QXmlStreamReader xml(&file);
    QList<TsMessage> messages;
    QString context;
    while (!xml.atEnd()) {
        xml.readNext();
        if (!xml.isStartElement())
            continue;
        if (xml.name() == u"context")
            context.clear();
        else if (xml.name() == u"name")
            context = xml.readElementText();
        else if (xml.name() == u"message")
            messages << readMessage(xml, context);
    }
    if (xml.hasError()) {
        *error = u"%1:%2: %3"_s.arg(path).arg(xml.lineNumber()).arg(xml.errorString());
        return {};
    }
    return messages;
}

// %1..%99, %L1.., %n and %Ln: what QString::arg() and tr()'s numerus replace.
QSet<QString> placeholders(const QString &text)
{
    static const QRegularExpression re(u"%L?(?:[1-9][0-9]?|n)"_s);
    QSet<QString> found;
    for (const QRegularExpressionMatch &m : re.globalMatch(text))
        found.insert(m.captured());
    return found;
}

QStringList htmlTags(const QString &text)
{
    static const QRegularExpression re(u"</?[A-Za-z][A-Za-z0-9]*(?:\\s[^<>]*)?/?>"_s);
    QStringList tags;
    for (const QRegularExpressionMatch &m : re.globalMatch(text))
        tags << m.captured();
    tags.sort();
    return tags;
}

// The (lower-case) letter after a single '&' ("&&" is a literal ampersand), or a null QChar.
QChar mnemonic(QStringView text)
{
    for (qsizetype i = 0; i + 1 < text.size(); ++i) {
        if (text[i] != u'&')
            continue;
        if (text[i + 1] == u'&') {
            ++i;
            continue;
        }
        return text[i + 1].isLetterOrNumber() ? text[i + 1].toLower() : QChar();
    }
    return {};
}

QString sorted(const QSet<QString> &set)
{
    QStringList list(set.begin(), set.end());
    list.sort();
    return u"{"_s + list.join(u", "_s) + u"}"_s;
}

// What is wrong with one form of a translation, compared with the source.
QStringList formProblems(const TsMessage &m, const QString &translation)
{
    QStringList problems;
    if (translation.trimmed().isEmpty()) {
        problems << u"empty"_s;
        return problems;
    }
    if (placeholders(translation) != placeholders(m.source)) {
        problems << u"placeholders %1 instead of %2"_s.arg(sorted(placeholders(translation)),
                                                           sorted(placeholders(m.source)));
    }
    if (htmlTags(translation) != htmlTags(m.source)) {
        problems << u"HTML tags %1 instead of %2"_s.arg(htmlTags(translation).join(QString()),
                                                        htmlTags(m.source).join(QString()));
    }
    if (!mnemonic(m.source).isNull() && mnemonic(translation).isNull())
        problems << u"mnemonic lost"_s;
    // Spin box prefixes and suffixes (" s", "Concurrency: ") need their space.
    if (!m.source.isEmpty()
        && (m.source.front().isSpace() != translation.front().isSpace()
            || m.source.back().isSpace() != translation.back().isSpace()))
        problems << u"leading or trailing space differs"_s;
    // Actions that open a dialog end in "…"; form labels end in ":".
    for (const QString &end : { u"…"_s, u":"_s }) {
        if (m.source.trimmed().endsWith(end) && !translation.trimmed().endsWith(end))
            problems << u"does not end in \"%1\""_s.arg(end);
    }
    return problems;
}

QString translate(const TsMessage &m, int n = -1)
{
    const QByteArray context = m.context.toUtf8();
    const QByteArray source = m.source.toUtf8();
    const QByteArray comment = m.comment.toUtf8();
    return QCoreApplication::translate(context.constData(), source.constData(),
                                       m.comment.isEmpty() ? nullptr : comment.constData(), n);
}

// Duplicate mnemonics among texts shown together, as "x: text, text".
QStringList duplicateMnemonics(const QStringList &texts)
{
    QHash<QChar, QStringList> byLetter;
    for (const QString &text : texts) {
        const QChar letter = mnemonic(text);
        if (!letter.isNull())
            byLetter[letter] << text;
    }
    QStringList duplicates;
    for (auto it = byLetter.cbegin(); it != byLetter.cend(); ++it) {
        if (it.value().size() > 1)
            duplicates << u"%1: %2"_s.arg(it.key()).arg(it.value().join(u", "_s));
    }
    duplicates.sort();
    return duplicates;
}

QStringList visibleActionTexts(const QWidget *widget)
{
    QStringList texts;
    for (const QAction *action : widget->actions()) {
        if (action->isVisible() && !action->isSeparator())
            texts << action->text();
    }
    return texts;
}

// The texts of a dialog's labels and buttons that carry mnemonics.
QStringList dialogTexts(const QWidget *dialog)
{
    QStringList texts;
    for (const QLabel *label : dialog->findChildren<QLabel *>()) {
        if (label->isVisibleTo(dialog))
            texts << label->text();
    }
    for (const QAbstractButton *button : dialog->findChildren<QAbstractButton *>()) {
        if (button->isVisibleTo(dialog))
            texts << button->text();
    }
    return texts;
}

// Every user-visible text of a widget tree: window titles, menus and actions, labels,
// buttons, placeholders, combo box items, spin box affixes, tool tips, accessible names and
// item view headers.
QStringList visibleTexts(QWidget *root)
{
    QStringList texts;
    auto addActions = [&texts](const QList<QAction *> &actions, auto &self) -> void {
        for (QAction *action : actions) {
            texts << action->text() << action->toolTip();
            if (QMenu *menu = action->menu())
                self(menu->actions(), self);
        }
    };
    QList<QWidget *> widgets = root->findChildren<QWidget *>();
    widgets.prepend(root);
    for (QWidget *w : std::as_const(widgets)) {
        texts << w->windowTitle() << w->toolTip() << w->accessibleName();
        addActions(w->actions(), addActions);
        if (auto *label = qobject_cast<QLabel *>(w))
            texts << label->text();
        else if (auto *button = qobject_cast<QAbstractButton *>(w))
            texts << button->text();
        else if (auto *edit = qobject_cast<QLineEdit *>(w))
            texts << edit->placeholderText();
        else if (auto *spin = qobject_cast<QSpinBox *>(w))
            texts << spin->prefix() << spin->suffix();
        if (auto *combo = qobject_cast<QComboBox *>(w)) {
            for (int i = 0; i < combo->count(); ++i)
                texts << combo->itemText(i) << combo->itemData(i, Qt::ToolTipRole).toString();
        }
        if (auto *view = qobject_cast<QAbstractItemView *>(w); view && view->model()) {
            for (int c = 0; c < view->model()->columnCount(); ++c) {
                for (int role : { int(Qt::DisplayRole), int(Qt::ToolTipRole) })
                    texts << view->model()->headerData(c, Qt::Horizontal, role).toString();
            }
        }
    }
    texts.removeAll(QString());
    texts.removeDuplicates();
    return texts;
}

} // namespace

class TestTranslations : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void tsFileComplete();
    void compiledCatalogueMatchesTs();
    void realStrings_data();
    void realStrings();
    void mainWindowInGerman();
    void mnemonicsUnique();
    void toolbarAndFilterBarFit();

private:
    QList<TsMessage> m_messages;
    // English source texts that have a different German translation: seeing one in the
    // German user interface means a string was not translated.
    QSet<QString> m_englishOnly;
    QTranslator m_qtTranslator;
    QTranslator m_translator;
};

void TestTranslations::initTestCase()
{
    // MainWindow reads its layout from QSettings: a scratch place, not the user's.
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(u"oddjobs-tests"_s);
    QCoreApplication::setApplicationName(u"tst_translations"_s);

    QString error;
    m_messages = readTs(QStringLiteral(ODDJOBS_TS_FILE), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QVERIFY(!m_messages.isEmpty());

    // As app/dashboard.cpp does for --lang de.
    const QLocale german(u"de"_s);
    QLocale::setDefault(german);
    if (m_qtTranslator.load(german, u"qtbase"_s, u"_"_s,
                            QLibraryInfo::path(QLibraryInfo::TranslationsPath)))
        QCoreApplication::installTranslator(&m_qtTranslator);
    QVERIFY(QFile::exists(u":/i18n/oddjobs_de.qm"_s));
    QVERIFY(m_translator.load(german, u"oddjobs"_s, u"_"_s, u":/i18n"_s));
    QVERIFY(QCoreApplication::installTranslator(&m_translator));

    QSet<QString> germanTexts;
    for (const TsMessage &m : std::as_const(m_messages)) {
        germanTexts += QSet<QString>(m.translations.begin(), m.translations.end());
        if (!m.numerus && !m.isObsolete() && m.translations.value(0) != m.source)
            m_englishOnly.insert(m.source);
    }
    m_englishOnly -= germanTexts; // "Status" is English and German alike
}

// (a) Every message is translated, keeps its placeholders, tags and mnemonic.
void TestTranslations::tsFileComplete()
{
    QStringList problems;
    int numerus = 0;
    for (const TsMessage &m : std::as_const(m_messages)) {
        if (m.isObsolete())
            continue;
        QStringList found;
        if (m.type == u"unfinished")
            found << u"unfinished"_s;
        if (m.numerus) {
            ++numerus;
            // German has two forms: singular and plural.
            if (m.translations.size() != 2)
                found << u"%1 numerus forms instead of 2"_s.arg(m.translations.size());
        } else if (m.translations.size() != 1) {
            found << u"no translation"_s;
        }
        for (qsizetype i = 0; i < m.translations.size(); ++i) {
            for (const QString &problem : formProblems(m, m.translations.at(i)))
                found << (m.numerus ? u"form %1: %2"_s.arg(i).arg(problem) : problem);
        }
        if (!found.isEmpty())
            problems << m.where() + u": "_s + found.join(u"; "_s);
    }
    qInfo("%lld messages, %d of them numerus", qlonglong(m_messages.size()), numerus);
    QVERIFY2(
        problems.isEmpty(),
        qPrintable(u"%1 message(s) need work:\n"_s.arg(problems.size()) + problems.join(u'\n')));
}

// (b) The compiled catalogue under :/i18n has every translation of the .ts file: a stale
// or missing .qm shows here.
void TestTranslations::compiledCatalogueMatchesTs()
{
    QStringList problems;
    for (const TsMessage &m : std::as_const(m_messages)) {
        if (m.isObsolete() || m.type == u"unfinished" || m.translations.isEmpty())
            continue;
        // German: n == 1 takes the first form, everything else the second.
        const QList<std::pair<int, QString>> expected = m.numerus
            ? QList<std::pair<int, QString>> { { 1, m.translations.value(0) },
                                               { 2, m.translations.value(1) } }
            : QList<std::pair<int, QString>> { { -1, m.translations.value(0) } };
        for (auto [n, want] : expected) {
            if (n >= 0) // translate() fills in %n and %Ln itself
                want.replace(u"%Ln"_s, QLocale().toString(n)).replace(u"%n"_s, QString::number(n));
            const QString got = translate(m, n);
            if (got != want)
                problems << m.where() + u": \"%1\" instead of \"%2\""_s.arg(got, want);
        }
    }
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u'\n')));
}

void TestTranslations::realStrings_data()
{
    QTest::addColumn<QString>("actual");
    QTest::addColumn<QString>("expected");

    auto tr = [](const char *context, const char *source, const char *comment = nullptr,
                 int n = -1) { return QCoreApplication::translate(context, source, comment, n); };
    QTest::addRow("File menu") << tr("OddJobs::Ui::MainWindow", "&File") << u"&Datei"_s;
    QTest::addRow("Jobs menu: cancel")
        << tr("OddJobs::Ui::MainWindow", "&Cancel") << u"&Abbrechen"_s;
    QTest::addRow("status with comment")
        << tr("OddJobs::Ui::JobTableModel", "Running", "job status (locked by a worker)")
        << u"Läuft"_s;
    QTest::addRow("status label: locked")
        << JobTableModel::statusLabel(JobStatus::Locked) << u"Läuft"_s;
    QTest::addRow("status label: retry")
        << JobTableModel::statusLabel(JobStatus::Retry) << u"Wiederholung"_s;
    QTest::addRow("status label: cancelled")
        << JobTableModel::statusLabel(JobStatus::Cancelled) << u"Abgebrochen"_s;
    QTest::addRow("log event") << LogModel::kindLabel(LogEventKind::JobTimeout)
                               << u"Zeitüberschreitung"_s;
    QTest::addRow("dialog button") << tr("OddJobs::Ui::JobDialog", "&Enqueue") << u"&Einreihen"_s;
    QTest::addRow("dialog title with comment")
        << tr("OddJobs::Ui::JobDialog", "Edit Job %1", "window title; %1 is the job id").arg(42)
        << u"Job 42 bearbeiten"_s;
    QTest::addRow("numerus singular")
        << tr("OddJobs::Ui::MainWindow", "%n job(s) deleted", nullptr, 1) << u"1 Job gelöscht"_s;
    QTest::addRow("numerus plural")
        << tr("OddJobs::Ui::MainWindow", "%n job(s) deleted", nullptr, 3) << u"3 Jobs gelöscht"_s;
    QTest::addRow("numerus with %%Ln")
        << tr("OddJobs::Ui::StatsModel", "%1: %Ln job(s) in the table", "", 1234).arg(u"mail"_s)
        << u"mail: 1.234 Jobs in der Tabelle"_s;
    QTest::addRow("app context") << tr("Dashboard", "Cannot open the database")
                                 << u"Datenbank kann nicht geöffnet werden"_s;
}

// (b) A handful of real strings, through QCoreApplication::translate and the models' labels.
void TestTranslations::realStrings()
{
    QFETCH(QString, actual);
    QFETCH(QString, expected);
    QCOMPARE(actual, expected);
}

// (c) The main window built with the German catalogue installed.
void TestTranslations::mainWindowInGerman()
{
    MainWindow window(HandlerRegistry {}, RunnerConfig {}, false);

    QStringList titles;
    for (const QAction *action : window.menuBar()->actions())
        titles << action->text();
    QCOMPARE(titles,
             (QStringList { u"&Datei"_s, u"&Jobs"_s, u"&Worker"_s, u"&Ansicht"_s, u"&Hilfe"_s }));

    QStringList docks;
    for (const QDockWidget *dock : window.findChildren<QDockWidget *>())
        docks << dock->windowTitle();
    docks.sort();
    QCOMPARE(docks, (QStringList { u"Job-Details"_s, u"Protokoll"_s, u"Statistik"_s }));

    // Both states of the Jobs menu: on the selection and on everything matching the filter.
    for (bool onFilter : { false, true }) {
        window.setActOnFilter(onFilter);
        QStringList leftovers;
        for (const QString &text : visibleTexts(&window)) {
            if (m_englishOnly.contains(text))
                leftovers << text;
        }
        QVERIFY2(
            leftovers.isEmpty(),
            qPrintable(u"English left in the German window (act on filter: %1): "_s.arg(onFilter)
                       + leftovers.join(u" | "_s)));
    }
}

// Within each menu, the menu bar and each dialog, no two entries share a mnemonic.
void TestTranslations::mnemonicsUnique()
{
    QStringList problems;
    MainWindow window(HandlerRegistry {}, RunnerConfig {}, false);
    problems << duplicateMnemonics(visibleActionTexts(window.menuBar()));
    for (bool onFilter : { false, true }) {
        window.setActOnFilter(onFilter);
        for (const QAction *action : window.menuBar()->actions()) {
            for (const QString &duplicate : duplicateMnemonics(visibleActionTexts(action->menu())))
                problems << action->text() + u" menu: "_s + duplicate;
        }
    }
    // Context menus of the tables (the log's has Copy, Select All and Export).
    for (const QAbstractItemView *view : window.findChildren<QAbstractItemView *>()) {
        if (view->contextMenuPolicy() == Qt::ActionsContextMenu) {
            for (const QString &duplicate : duplicateMnemonics(visibleActionTexts(view)))
                problems << view->objectName() + u" context menu: "_s + duplicate;
        }
    }

    std::unique_ptr<JobDialog> enqueue(JobDialog::forEnqueue({}, { u"default"_s }, nullptr));
    for (bool raw : { false, true }) {
        enqueue->setRawPayload(raw);
        for (const QString &duplicate : duplicateMnemonics(dialogTexts(enqueue.get())))
            problems << u"job dialog (whole payload: %1): "_s.arg(raw) + duplicate;
    }
    Job job;
    job.id = 7;
    job.payload = QJsonObject { { u"tag"_s, u"mail"_s } };
    job.queue = u"default"_s;
    std::unique_ptr<JobDialog> edit(JobDialog::forEdit(job, {}, { u"default"_s }, nullptr));
    for (const QString &duplicate : duplicateMnemonics(dialogTexts(edit.get())))
        problems << u"edit dialog: "_s + duplicate;
    ConnectionDialog connection({}, nullptr);
    for (const QString &duplicate : duplicateMnemonics(dialogTexts(&connection)))
        problems << u"connection dialog: "_s + duplicate;

    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u'\n')));
}

// Nothing in the main toolbar moves into its overflow menu and no filter bar control is
// squeezed below the size its German text needs.
void TestTranslations::toolbarAndFilterBarFit()
{
    MainWindow window(HandlerRegistry {}, RunnerConfig {}, false);
    window.resize(1280, 800);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QCoreApplication::processEvents();

    QStringList problems;
    auto *tools = window.findChild<QToolBar *>(u"MainToolBar"_s);
    QVERIFY(tools);
    for (QAction *action : tools->actions()) {
        if (!action->isVisible() || action->isSeparator())
            continue;
        const QWidget *button = tools->widgetForAction(action);
        if (!button || !button->isVisible())
            problems << u"toolbar: \"%1\" is in the overflow menu"_s.arg(action->text());
    }

    const QWidget *central = window.centralWidget();
    for (const char *name : { "statusFilter", "typeFilter", "queueFilter", "searchFilter" }) {
        QVERIFY2(central->findChild<QWidget *>(QString::fromLatin1(name)), name);
    }
    for (QToolButton *button : central->findChildren<QToolButton *>(Qt::FindDirectChildrenOnly)) {
        if (button->width() < button->sizeHint().width())
            problems << u"filter bar: \"%1\" is %2 px wide, needs %3"_s.arg(button->text())
                            .arg(button->width())
                            .arg(button->sizeHint().width());
    }
    // Line edits and editable combo boxes: the placeholder has to fit beside the frame.
    QList<QLineEdit *> edits = central->findChildren<QLineEdit *>(Qt::FindDirectChildrenOnly);
    for (QComboBox *combo : central->findChildren<QComboBox *>(Qt::FindDirectChildrenOnly)) {
        if (combo->lineEdit())
            edits << combo->lineEdit();
        else if (combo->width() < combo->sizeHint().width())
            problems << u"filter bar: \"%1\" is %2 px wide, needs %3"_s.arg(combo->currentText())
                            .arg(combo->width())
                            .arg(combo->sizeHint().width());
    }
    for (const QLineEdit *edit : std::as_const(edits)) {
        const int needed = edit->fontMetrics().horizontalAdvance(edit->placeholderText());
        const QMargins margins = edit->textMargins();
        const int frame
            = edit->hasFrame() ? 2 * edit->style()->pixelMetric(QStyle::PM_DefaultFrameWidth) : 0;
        const int available = edit->width() - frame - margins.left() - margins.right() - 4;
        if (available < needed)
            problems << u"filter bar: placeholder \"%1\" needs %2 px, has %3"_s
                            .arg(edit->placeholderText())
                            .arg(needed)
                            .arg(available);
    }

    const QString shots = qEnvironmentVariable("ODDJOBS_SCREENSHOT_DIR");
    if (!shots.isEmpty()) {
        QDir().mkpath(shots);
        QVERIFY(window.grab().save(QDir(shots).filePath(u"dashboard-de.png"_s)));
        std::unique_ptr<JobDialog> dialog(JobDialog::forEnqueue({}, { u"default"_s }, &window));
        dialog->show();
        QVERIFY(QTest::qWaitForWindowExposed(dialog.get()));
        QVERIFY(dialog->grab().save(QDir(shots).filePath(u"jobdialog-de.png"_s)));
        ConnectionDialog connection({}, &window);
        connection.show();
        QVERIFY(QTest::qWaitForWindowExposed(&connection));
        QVERIFY(connection.grab().save(QDir(shots).filePath(u"connectiondialog-de.png"_s)));
        for (const QAction *action : window.menuBar()->actions()) {
            QMenu *menu = action->menu();
            menu->popup(window.mapToGlobal(QPoint(0, 0)));
            QVERIFY(QTest::qWaitForWindowExposed(menu));
            QVERIFY(menu->grab().save(
                QDir(shots).filePath(u"menu-%1-de.png"_s.arg(menu->title().remove(u'&')))));
            menu->hide();
        }
    }

    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u'\n')));
}

QTEST_MAIN(TestTranslations)
#include "tst_translations.moc"
