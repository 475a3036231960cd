#include "jsonedit.h"

#include <QAction>
#include <QContextMenuEvent>
#include <QFontDatabase>
#include <QHelpEvent>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QMenu>
#include <QTextBlock>
#include <QTimer>
#include <QToolTip>
#include <algorithm>
#include <memory>
#include <optional>

using namespace Qt::StringLiterals;

namespace OddJobs::Ui {

namespace {

bool isJsonSpace(QChar c)
{
    return c == u' ' || c == u'\t' || c == u'\n' || c == u'\r';
}

bool isPunctuation(QChar c)
{
    return c == u'{' || c == u'}' || c == u'[' || c == u']' || c == u':' || c == u',';
}

struct Token
{
    int start = 0;
    int end = 0;
};

// The next token from `from`: a string (to its closing quote or the end of the text), one
// punctuation character, or a run of anything else (numbers, literals, garbage). Only used to
// find where a token starts, so it need not know JSON's grammar.
std::optional<Token> nextToken(const QString &text, int from)
{
    int i = from;
    const int n = int(text.size());
    while (i < n && isJsonSpace(text.at(i)))
        ++i;
    if (i >= n)
        return std::nullopt;
    Token t { i, i + 1 };
    const QChar c = text.at(i);
    if (c == u'"') {
        int j = i + 1;
        while (j < n && text.at(j) != u'"')
            j += text.at(j) == u'\\' ? 2 : 1;
        t.end = std::min(j + 1, n);
    } else if (!isPunctuation(c)) {
        int j = i + 1;
        while (j < n && !isJsonSpace(text.at(j)) && !isPunctuation(text.at(j))
               && text.at(j) != u'"')
            ++j;
        t.end = j;
    }
    return t;
}

// Qt reports a parse error after it has read (part of) the offending token, sometimes with
// the blank after it. The token the user has to look at is the last one starting before that.
// A misspelt literal is an exception: Qt stops one character past the mismatch, which may
// be the punctuation after it ("tru}")...
Token offendingToken(const QString &text, int offset, QJsonParseError::ParseError error)
{
    Token last { offset, offset };
    Token previous = last;
    int from = 0;
    // ... and a bad number is reported where it starts.
    const int bound = error == QJsonParseError::IllegalNumber ? offset + 1 : offset;
    while (auto t = nextToken(text, from)) {
        if (t->start >= bound)
            break;
        previous = last;
        last = *t;
        from = t->end;
    }
    if ((error == QJsonParseError::IllegalValue || error == QJsonParseError::IllegalNumber)
        && last.end - last.start == 1 && isPunctuation(text.at(last.start))
        && previous.end == last.start && previous.end > previous.start
        && !isPunctuation(text.at(previous.start)) && text.at(previous.start) != u'"') {
        return previous;
    }
    return last;
}

// The position of the first comma between top-level values of a text that is a valid
// comma-separated sequence of JSON values.
int firstTopLevelComma(const QString &text)
{
    int depth = 0;
    bool inString = false;
    for (int i = 0; i < text.size(); ++i) {
        const QChar c = text.at(i);
        if (inString) {
            if (c == u'\\')
                ++i;
            else if (c == u'"')
                inString = false;
        } else if (c == u'"') {
            inString = true;
        } else if (c == u'[' || c == u'{') {
            ++depth;
        } else if (c == u']' || c == u'}') {
            --depth;
        } else if (c == u',' && depth == 0) {
            return i;
        }
    }
    return int(text.size());
}

// QJsonDocument parses only objects and arrays: any value becomes the one element of an array.
// The newline keeps a trailing number or literal apart from the bracket.
QByteArray wrapped(QStringView text)
{
    return "[" + text.toUtf8() + "\n]";
}

bool isSingleValue(QStringView text)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(wrapped(text), &error);
    return error.error == QJsonParseError::NoError && doc.array().size() == 1;
}

// The character position in `text` of a byte offset into wrapped(text).
int positionOfOffset(const QString &text, const QByteArray &utf8, qsizetype wrappedOffset)
{
    qsizetype bytes = std::clamp<qsizetype>(wrappedOffset - 1, 0, utf8.size());
    while (bytes > 0 && bytes < utf8.size() && (uchar(utf8.at(bytes)) & 0xC0) == 0x80)
        --bytes; // not inside a multi-byte character
    return std::min(int(QString::fromUtf8(utf8.first(bytes)).size()), int(text.size()));
}

bool afterOpeningOrComma(const QString &text, int position)
{
    int i = position - 1;
    while (i >= 0 && isJsonSpace(text.at(i)))
        --i;
    return i >= 0 && (text.at(i) == u'{' || text.at(i) == u',');
}

int endOfContent(const QString &text)
{
    int end = int(text.size());
    while (end > 0 && isJsonSpace(text.at(end - 1)))
        --end;
    return end;
}

} // namespace

JsonEdit::JsonEdit(QWidget *parent)
    : QPlainTextEdit(parent)
{
    setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    setTabStopDistance(fontMetrics().horizontalAdvance(u' ') * 4);
    setLineWrapMode(QPlainTextEdit::NoWrap);
    // In a form, Tab moves on to the next field; JSON needs no tab characters.
    setTabChangesFocus(true);

    m_formatAction = new QAction(tr("&Format", "pretty-print the JSON text"), this);
    m_formatAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_F));
    m_formatAction->setShortcutContext(Qt::WidgetShortcut);
    m_formatAction->setEnabled(false);
    addAction(m_formatAction);
    connect(m_formatAction, &QAction::triggered, this, &JsonEdit::format);

    // The state follows every keystroke; the red mark waits until typing pauses, so it does
    // not flicker under the cursor.
    m_markTimer = new QTimer(this);
    m_markTimer->setSingleShot(true);
    m_markTimer->setInterval(150);
    connect(m_markTimer, &QTimer::timeout, this, &JsonEdit::updateErrorMark);

    connect(this, &QPlainTextEdit::textChanged, this, &JsonEdit::validate);
    validate();
}

JsonEdit::~JsonEdit() = default;

void JsonEdit::setAllowEmpty(bool allow)
{
    if (m_allowEmpty == allow)
        return;
    m_allowEmpty = allow;
    validate();
}

QString JsonEdit::errorText() const
{
    if (m_valid)
        return {};
    return tr("Line %1, column %2: %3", "JSON error position and message")
        .arg(m_errorLine)
        .arg(m_errorColumn)
        .arg(m_errorMessage);
}

void JsonEdit::setValue(const QJsonValue &value, bool pretty)
{
    setPlainText(toText(value, pretty));
}

QString JsonEdit::toText(const QJsonValue &value, bool pretty)
{
    const auto format = pretty ? QJsonDocument::Indented : QJsonDocument::Compact;
    switch (value.type()) {
    case QJsonValue::Undefined:
        return {};
    case QJsonValue::Object:
        return QString::fromUtf8(QJsonDocument(value.toObject()).toJson(format)).trimmed();
    case QJsonValue::Array:
        return QString::fromUtf8(QJsonDocument(value.toArray()).toJson(format)).trimmed();
    default: {
        // A scalar: serialize it as the one element of an array, and drop the brackets.
        const QByteArray json = QJsonDocument(QJsonArray { value }).toJson(QJsonDocument::Compact);
        return QString::fromUtf8(json.sliced(1, json.size() - 2));
    }
    }
}

void JsonEdit::format()
{
    if (!m_valid || m_empty || isReadOnly())
        return;
    const QString text = toText(m_value, true);
    if (text == toPlainText())
        return;
    // Through the cursor rather than setPlainText(), so the user can undo it.
    QTextCursor cursor(document());
    cursor.beginEditBlock();
    cursor.select(QTextCursor::Document);
    cursor.insertText(text);
    cursor.endEditBlock();
}

void JsonEdit::contextMenuEvent(QContextMenuEvent *event)
{
    // Read-only can change without a signal: check it now.
    m_formatAction->setEnabled(m_valid && !m_empty && !isReadOnly());
    std::unique_ptr<QMenu> menu(createStandardContextMenu(event->pos()));
    menu->addSeparator();
    menu->addAction(m_formatAction);
    menu->exec(event->globalPos());
}

void JsonEdit::changeEvent(QEvent *event)
{
    QPlainTextEdit::changeEvent(event);
    if (event->type() == QEvent::FontChange) {
        setTabStopDistance(fontMetrics().horizontalAdvance(u' ') * 4);
    } else if (event->type() == QEvent::LanguageChange) {
        m_formatAction->setText(tr("&Format", "pretty-print the JSON text"));
        validate(); // the error message is translated
    }
}

bool JsonEdit::viewportEvent(QEvent *event)
{
    if (event->type() == QEvent::ToolTip && !m_valid && m_errorPosition >= 0) {
        // The error as a tooltip over its mark (tooltip events go to the viewport).
        auto *help = static_cast<QHelpEvent *>(event);
        const int position = cursorForPosition(help->pos()).position();
        if (position >= m_errorPosition - 1 && position <= m_errorPosition + m_errorLength) {
            QToolTip::showText(help->globalPos(), errorText(), viewport());
            return true;
        }
    }
    return QPlainTextEdit::viewportEvent(event);
}

void JsonEdit::validate()
{
    const bool wasValid = m_valid;
    const QString text = toPlainText();
    const int end = endOfContent(text);
    m_empty = end == 0;
    m_value = QJsonValue(QJsonValue::Undefined);
    m_errorMessage.clear();
    m_errorPosition = -1;
    m_errorLength = 0;
    m_errorLine = m_errorColumn = 0;

    if (m_empty) {
        if (m_allowEmpty)
            m_valid = true;
        else
            setError(text, end, 0, tr("a value is required", "JSON error"));
    } else {
        const QByteArray utf8 = text.toUtf8();
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(wrapped(text), &error);
        if (error.error == QJsonParseError::NoError) {
            const QJsonArray values = doc.array();
            if (values.size() == 1) {
                m_valid = true;
                m_value = values.first();
            } else {
                const int comma = firstTopLevelComma(text);
                setError(text, comma, 1, tr("unexpected text after the value", "JSON error"));
            }
        } else {
            const bool atEnd = error.offset >= utf8.size() + 3; // in or past the closing "\n]"
            const Token token
                = offendingToken(text, positionOfOffset(text, utf8, error.offset), error.error);
            if (atEnd && error.error != QJsonParseError::UnterminatedString) {
                // Something is missing at the end: point just behind the last character.
                setError(text, end, 0,
                         error.error == QJsonParseError::UnterminatedObject
                             ? tr("unexpected end of text: \"}\" missing", "JSON error")
                             : error.error == QJsonParseError::UnterminatedArray
                             ? tr("unexpected end of text: \"]\" missing", "JSON error")
                             : tr("unexpected end of text", "JSON error"));
            } else if (token.start > 0 && error.error != QJsonParseError::UnterminatedString
                       && isSingleValue(QStringView(text).first(token.start))) {
                // A complete value comes before the offending token: anything after it is
                // garbage, whatever Qt calls it inside our wrapping array.
                setError(text, token.start, token.end - token.start,
                         tr("unexpected text after the value", "JSON error"));
            } else {
                QString message;
                switch (error.error) {
                case QJsonParseError::UnterminatedObject:
                    // Qt says the same after "{" or ",", where a member name is missing.
                    message = afterOpeningOrComma(text, token.start)
                        ? tr("expected a member name in double quotes", "JSON error")
                        : tr("expected \",\" or \"}\"", "JSON error");
                    break;
                case QJsonParseError::MissingNameSeparator:
                    message = tr("expected \":\" after the member name", "JSON error");
                    break;
                case QJsonParseError::UnterminatedArray:
                case QJsonParseError::MissingValueSeparator:
                    message = tr("expected \",\" or \"]\"", "JSON error");
                    break;
                case QJsonParseError::IllegalValue:
                    message
                        = tr("invalid value (names and strings need double quotes)", "JSON error");
                    break;
                case QJsonParseError::IllegalNumber:
                    // Qt reads any unknown word as a number.
                    message = token.start < text.size()
                            && (text.at(token.start).isDigit() || text.at(token.start) == u'-')
                        ? tr("invalid number", "JSON error")
                        : tr("invalid value (names and strings need double quotes)", "JSON error");
                    break;
                case QJsonParseError::TerminationByNumber:
                    message = tr("unexpected end of text after a number", "JSON error");
                    break;
                case QJsonParseError::IllegalEscapeSequence:
                    message = tr("invalid escape sequence", "JSON error");
                    break;
                case QJsonParseError::IllegalUTF8String:
                    message = tr("invalid character in a string", "JSON error");
                    break;
                case QJsonParseError::UnterminatedString:
                    message = tr("unterminated string: closing quote missing", "JSON error");
                    break;
                case QJsonParseError::MissingObject:
                    message = tr("expected a value", "JSON error");
                    break;
                case QJsonParseError::DeepNesting:
                    message = tr("nested too deeply", "JSON error");
                    break;
                case QJsonParseError::DocumentTooLarge:
                    message = tr("the text is too large", "JSON error");
                    break;
                case QJsonParseError::GarbageAtEnd:
                    message = tr("unexpected text after the value", "JSON error");
                    break;
                default:
                    message = error.errorString();
                    break;
                }
                setError(text, token.start, token.end - token.start, message);
            }
        }
    }

    m_formatAction->setEnabled(m_valid && !m_empty && !isReadOnly());
    if (m_valid)
        updateErrorMark();
    else
        m_markTimer->start();
    if (m_valid != wasValid)
        Q_EMIT validityChanged(m_valid);
}

void JsonEdit::setError(const QString &text, int position, int length, const QString &message)
{
    m_valid = false;
    m_errorMessage = message;
    m_errorPosition = position;
    // Mark no further than the end of the line.
    const qsizetype lineEnd = text.indexOf(u'\n', position);
    m_errorLength
        = int(std::min<qsizetype>(length, (lineEnd < 0 ? text.size() : lineEnd) - position));
    const qsizetype lineStart = text.lastIndexOf(u'\n', position - 1) + 1;
    m_errorLine = int(QStringView(text).first(position).count(u'\n')) + 1;
    // Columns count characters, so a surrogate pair counts once.
    int column = 1;
    for (qsizetype i = lineStart; i < position; ++i) {
        if (!text.at(i).isLowSurrogate())
            ++column;
    }
    m_errorColumn = column;
}

void JsonEdit::updateErrorMark()
{
    m_markTimer->stop();
    QList<QTextEdit::ExtraSelection> selections;
    if (!m_valid && m_errorPosition >= 0) {
        const int characters = document()->characterCount() - 1; // without the final separator
        int start = std::min(m_errorPosition, characters);
        int length = std::max(m_errorLength, 1);
        // Nothing to underline at the end of a line: mark the character before instead.
        if (start + length > characters || m_errorLength == 0) {
            const QChar at = start < characters ? document()->characterAt(start) : QChar();
            if (start >= characters || at == QChar::ParagraphSeparator || at == u'\n') {
                start = std::max(start - 1, 0);
                length = 1;
            }
        }
        if (characters > 0) {
            QTextEdit::ExtraSelection mark;
            mark.cursor = QTextCursor(document());
            mark.cursor.setPosition(start);
            mark.cursor.setPosition(std::min(start + length, characters), QTextCursor::KeepAnchor);
            mark.format.setUnderlineStyle(QTextCharFormat::WaveUnderline);
            mark.format.setUnderlineColor(QColor(0xc0, 0x39, 0x2b));
            mark.format.setBackground(QColor(0xc0, 0x39, 0x2b, 0x30));
            selections.append(mark);
        }
    }
    setExtraSelections(selections);
}

} // namespace OddJobs::Ui
