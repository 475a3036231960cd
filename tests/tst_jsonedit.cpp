// JsonEdit: validation as you type, error line/column and message, the error mark, the
// value of every kind of JSON text, and formatting.

#include "jsonedit.h"
#include "support/testhelpers.h"

#include <QAction>
#include <QApplication>
#include <QHelpEvent>
#include <QJsonArray>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTest>
#include <QToolTip>

using namespace Qt::StringLiterals;
using OddJobs::Ui::JsonEdit;

class TestJsonEdit : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void errors_data();
    void errors();
    void values_data();
    void values();
    void empty();
    void validitySignal();
    void typing();
    void errorMark();
    void setValueAndText_data();
    void setValueAndText();
    void format();
};

void TestJsonEdit::errors_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("line");
    QTest::addColumn<int>("column");
    QTest::addColumn<QString>("message");

    // Positions point at the start of the token the user has to look at.
    QTest::addRow("missing comma after line 2")
        << u"{\n  \"a\": 1\n  \"b\": 2\n}"_s << 3 << 3 << u"expected \",\" or \"}\""_s;
    QTest::addRow("missing comma in array")
        << u"[1,\n 2\n 3]"_s << 3 << 2 << u"expected \",\" or \"]\""_s;
    QTest::addRow("trailing garbage")
        << u"{\"a\": 1} x"_s << 1 << 10 << u"unexpected text after the value"_s;
    QTest::addRow("trailing bracket")
        << u"{\"a\": 1}}"_s << 1 << 9 << u"unexpected text after the value"_s;
    QTest::addRow("garbage lines later")
        << u"{\"a\": 1}\n\n  garbage"_s << 3 << 3 << u"unexpected text after the value"_s;
    QTest::addRow("two scalars") << u"1 2"_s << 1 << 3 << u"unexpected text after the value"_s;
    QTest::addRow("two values with a comma")
        << u"{}, []"_s << 1 << 3 << u"unexpected text after the value"_s;
    QTest::addRow("unterminated string")
        << u"{\n  \"name\": \"abc\n}"_s << 2 << 11 << u"unterminated string"_s;
    QTest::addRow("unclosed object") << u"{\"a\": [1, 2]\n\n"_s << 1 << 13 << u"\"}\" missing"_s;
    QTest::addRow("unclosed array") << u"[1, 2"_s << 1 << 6 << u"\"]\" missing"_s;
    QTest::addRow("missing colon") << u"{\"a\" 1}"_s << 1 << 6 << u"expected \":\""_s;
    QTest::addRow("missing value") << u"{\"a\": }"_s << 1 << 7 << u"expected a value"_s;
    QTest::addRow("trailing comma") << u"[1,]"_s << 1 << 4 << u"expected a value"_s;
    QTest::addRow("bad literal") << u"{\"a\": tru}"_s << 1 << 7 << u"invalid value"_s;
    QTest::addRow("bad literal, spaced") << u"[nul ]"_s << 1 << 2 << u"invalid value"_s;
    QTest::addRow("bad word") << u"{\"a\": yes}"_s << 1 << 7 << u"invalid value"_s;
    QTest::addRow("unquoted name") << u"{a: 1}"_s << 1 << 2 << u"expected a member name"_s;
    QTest::addRow("unquoted second name")
        << u"{\"a\": 1,\n b: 1}"_s << 2 << 2 << u"expected a member name"_s;
    QTest::addRow("closing bracket as value") << u"[1, }"_s << 1 << 5 << u"expected a value"_s;
    QTest::addRow("bad number") << u"[1, -x]"_s << 1 << 5 << u"invalid number"_s;
    QTest::addRow("bad exponent") << u"[1e+]"_s << 1 << 2 << u"invalid number"_s;
    // Columns count characters, not UTF-8 bytes or UTF-16 code units.
    QTest::addRow("after non-ASCII")
        << u"[\"é\", \"ü\" x]"_s << 1 << 11 << u"expected \",\" or \"]\""_s;
    QTest::addRow("after an emoji")
        << u"\"\U0001F600\" x"_s << 1 << 5 << u"unexpected text after the value"_s;
    QTest::addRow("empty") << QString() << 1 << 1 << u"a value is required"_s;
    QTest::addRow("blank") << u"  \n "_s << 1 << 1 << u"a value is required"_s;
}

void TestJsonEdit::errors()
{
    QFETCH(QString, text);
    QFETCH(int, line);
    QFETCH(int, column);
    QFETCH(QString, message);

    JsonEdit edit;
    edit.setPlainText(text);
    QVERIFY(!edit.isValid());
    QCOMPARE(edit.value(), QJsonValue(QJsonValue::Undefined));
    QVERIFY2(edit.errorMessage().contains(message), qPrintable(edit.errorMessage()));
    QCOMPARE(u"%1:%2"_s.arg(edit.errorLine()).arg(edit.errorColumn()),
             u"%1:%2"_s.arg(line).arg(column));
    QVERIFY2(edit.errorText().startsWith(u"Line %1, column %2: "_s.arg(line).arg(column)),
             qPrintable(edit.errorText()));
    QVERIFY(edit.errorText().endsWith(edit.errorMessage()));
    QVERIFY(edit.errorPosition() >= 0 && edit.errorPosition() <= text.size());
    QVERIFY(!edit.formatAction()->isEnabled());
}

void TestJsonEdit::values_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QJsonValue>("value");

    QTest::addRow("object") << u"{\"to\": \"a@b\", \"n\": [1, 2.5]}"_s
                            << QJsonValue(QJsonObject { { u"to"_s, u"a@b"_s },
                                                        { u"n"_s, QJsonArray { 1, 2.5 } } });
    QTest::addRow("empty object") << u"{}"_s << QJsonValue(QJsonObject());
    QTest::addRow("array") << u"[true, null]"_s << QJsonValue(QJsonArray { true, QJsonValue() });
    QTest::addRow("string") << u"\"hello\""_s << QJsonValue(u"hello"_s);
    QTest::addRow("string with comma") << u"\"a, b\""_s << QJsonValue(u"a, b"_s);
    QTest::addRow("integer") << u"42"_s << QJsonValue(42);
    QTest::addRow("big integer") << u"9007199254740993"_s << QJsonValue(qint64(9007199254740993LL));
    QTest::addRow("negative double") << u"-1.5e3"_s << QJsonValue(-1500.0);
    QTest::addRow("true") << u"true"_s << QJsonValue(true);
    QTest::addRow("null") << u"null"_s << QJsonValue(QJsonValue::Null);
    QTest::addRow("surrounded by blanks")
        << u"\n\n  {\"a\": 1}  \n"_s << QJsonValue(QJsonObject { { u"a"_s, 1 } });
    QTest::addRow("non-ASCII") << u"[\"é\U0001F600\"]"_s
                               << QJsonValue(QJsonArray { u"é\U0001F600"_s });
}

void TestJsonEdit::values()
{
    QFETCH(QString, text);
    QFETCH(QJsonValue, value);

    JsonEdit edit;
    edit.setPlainText(text);
    QVERIFY2(edit.isValid(), qPrintable(edit.errorText()));
    QVERIFY(!edit.isEmpty());
    QCOMPARE(edit.value(), value);
    QCOMPARE(edit.errorText(), QString());
    QCOMPARE(edit.errorPosition(), -1);
    QVERIFY(edit.formatAction()->isEnabled());
}

void TestJsonEdit::empty()
{
    JsonEdit edit;
    QVERIFY(!edit.allowEmpty());
    QVERIFY(!edit.isValid());
    QVERIFY(edit.isEmpty());

    QSignalSpy spy(&edit, &JsonEdit::validityChanged);
    edit.setAllowEmpty(true);
    QVERIFY(edit.isValid());
    QCOMPARE(edit.value(), QJsonValue(QJsonValue::Undefined));
    QVERIFY(!edit.formatAction()->isEnabled()); // nothing to format

    edit.setPlainText(u"   "_s);
    QVERIFY(edit.isValid());
    edit.setAllowEmpty(false);
    QVERIFY(!edit.isValid());
    QCOMPARE(OddJobs::Test::spyToString(spy), u"(true) (false)"_s);
}

void TestJsonEdit::validitySignal()
{
    JsonEdit edit;
    QSignalSpy spy(&edit, &JsonEdit::validityChanged);
    edit.setPlainText(u"{"_s); // still invalid: no signal
    edit.setPlainText(u"{}"_s);
    edit.setPlainText(u"[]"_s); // still valid: no signal
    edit.setPlainText(u"[1 2]"_s);
    edit.setValue(QJsonValue(u"x"_s));
    QCOMPARE(OddJobs::Test::spyToString(spy), u"(true) (false) (true)"_s);
}

void TestJsonEdit::typing()
{
    JsonEdit edit;
    edit.show();
    QVERIFY(QTest::qWaitForWindowExposed(&edit));
    QSignalSpy spy(&edit, &JsonEdit::validityChanged);
    QTest::keyClicks(&edit, u"{\"a\": 1"_s);
    QVERIFY(!edit.isValid());
    QCOMPARE(edit.errorLine(), 1);
    QCOMPARE(edit.errorColumn(), 8);
    QTest::keyClick(&edit, Qt::Key_Return);
    QTest::keyClicks(&edit, u"\"b\": 2}"_s);
    QVERIFY(!edit.isValid());
    QCOMPARE(edit.errorText(), u"Line 2, column 1: expected \",\" or \"}\""_s);
    // Back to the end of line 1 and add the comma.
    QTest::keyClick(&edit, Qt::Key_Up);
    QTest::keyClick(&edit, Qt::Key_End);
    QTest::keyClick(&edit, Qt::Key_Comma);
    QVERIFY2(edit.isValid(), qPrintable(edit.errorText()));
    QCOMPARE(edit.value(), QJsonValue(QJsonObject { { u"a"_s, 1 }, { u"b"_s, 2 } }));
    QCOMPARE(OddJobs::Test::spyToString(spy), u"(true)"_s);
    // Tab leaves the editor instead of inserting a tab: the editor sits in forms.
    QVERIFY(edit.tabChangesFocus());
}

void TestJsonEdit::errorMark()
{
    JsonEdit edit;
    edit.setPlainText(u"{\n  \"a\": 1\n  \"b\": 2\n}"_s);
    // The mark follows once typing pauses.
    QTRY_COMPARE(edit.extraSelections().size(), 1);
    const QTextEdit::ExtraSelection mark = edit.extraSelections().constFirst();
    QCOMPARE(mark.format.underlineStyle(), QTextCharFormat::WaveUnderline);
    QCOMPARE(mark.cursor.selectionStart(), edit.errorPosition());
    QCOMPARE(mark.cursor.selectedText(), u"\"b\""_s);

    // Hovering the mark shows the error.
    edit.show();
    QVERIFY(QTest::qWaitForWindowExposed(&edit));
    QTextCursor at(edit.document());
    at.setPosition(edit.errorPosition() + 1);
    const QPoint pos = edit.cursorRect(at).center();
    QHelpEvent help(QEvent::ToolTip, pos, edit.viewport()->mapToGlobal(pos));
    QApplication::sendEvent(edit.viewport(), &help);
    QTRY_COMPARE(QToolTip::text(), edit.errorText());
    QToolTip::hideText();

    // An error at the very end marks the last character.
    edit.setPlainText(u"[1, 2\n"_s);
    QTRY_COMPARE(edit.extraSelections().size(), 1);
    QTRY_COMPARE(edit.extraSelections().constFirst().cursor.selectedText(), u"2"_s);

    // Valid text: the mark goes at once.
    edit.setPlainText(u"[1, 2]"_s);
    QCOMPARE(edit.extraSelections().size(), 0);
}

void TestJsonEdit::setValueAndText_data()
{
    QTest::addColumn<QJsonValue>("value");
    QTest::addColumn<bool>("pretty");
    QTest::addColumn<QString>("text");

    const QJsonObject object { { u"a"_s, 1 }, { u"b"_s, QJsonArray { u"x"_s } } };
    QTest::addRow("object, pretty") << QJsonValue(object) << true
                                    << u"{\n    \"a\": 1,\n    \"b\": [\n        \"x\"\n    ]\n}"_s;
    QTest::addRow("object, compact") << QJsonValue(object) << false << u"{\"a\":1,\"b\":[\"x\"]}"_s;
    QTest::addRow("array") << QJsonValue(QJsonArray { 1, 2 }) << false << u"[1,2]"_s;
    QTest::addRow("string") << QJsonValue(u"he said \"hi\""_s) << true
                            << u"\"he said \\\"hi\\\"\""_s;
    QTest::addRow("number") << QJsonValue(2.5) << true << u"2.5"_s;
    QTest::addRow("null") << QJsonValue() << true << u"null"_s;
    QTest::addRow("false") << QJsonValue(false) << true << u"false"_s;
    QTest::addRow("undefined") << QJsonValue(QJsonValue::Undefined) << true << QString();
}

void TestJsonEdit::setValueAndText()
{
    QFETCH(QJsonValue, value);
    QFETCH(bool, pretty);
    QFETCH(QString, text);

    QCOMPARE(JsonEdit::toText(value, pretty), text);
    JsonEdit edit;
    edit.setAllowEmpty(true);
    edit.setValue(value, pretty);
    QCOMPARE(edit.toPlainText(), text);
    QVERIFY(edit.isValid());
    QCOMPARE(edit.value(), value);
}

void TestJsonEdit::format()
{
    JsonEdit edit;
    edit.setPlainText(u"{\"a\":[1,2],   \"b\":{}}"_s);
    QVERIFY(edit.formatAction()->isEnabled());
    edit.formatAction()->trigger();
    QCOMPARE(edit.toPlainText(),
             u"{\n    \"a\": [\n        1,\n        2\n    ],\n    \"b\": {\n    }\n}"_s);
    // One undoable step.
    edit.undo();
    QCOMPARE(edit.toPlainText(), u"{\"a\":[1,2],   \"b\":{}}"_s);

    // Invalid or read-only text is left alone.
    edit.setPlainText(u"{\"a\":"_s);
    edit.format();
    QCOMPARE(edit.toPlainText(), u"{\"a\":"_s);
    edit.setPlainText(u"[1,2]"_s);
    edit.setReadOnly(true);
    edit.format();
    QCOMPARE(edit.toPlainText(), u"[1,2]"_s);
}

QTEST_MAIN(TestJsonEdit)
#include "tst_jsonedit.moc"
