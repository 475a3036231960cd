#pragma once

#include "oddjobs_ui_export.h"

#include <QJsonValue>
#include <QPlainTextEdit>
#include <QString>

class QAction;
class QTimer;

namespace OddJobs::Ui {

// A plain-text editor for one JSON value (object, array or scalar) that checks its text as
// the user types, reports the first error with its line and column, and marks the error's
// position in the text.
class ODDJOBS_UI_EXPORT JsonEdit : public QPlainTextEdit
{
    Q_OBJECT
    Q_PROPERTY(bool valid READ isValid NOTIFY validityChanged)
    Q_PROPERTY(bool allowEmpty READ allowEmpty WRITE setAllowEmpty)
public:
    explicit JsonEdit(QWidget *parent = nullptr);
    ~JsonEdit() override;

    // Empty (or blank) text means "no value": valid only when allowed. Off by default.
    bool allowEmpty() const { return m_allowEmpty; }
    void setAllowEmpty(bool allow);
    bool isEmpty() const { return m_empty; }

    bool isValid() const { return m_valid; }
    // Empty when valid, else "Line L, column C: what is wrong" (translated).
    QString errorText() const;
    // The first error as a 0-based character position in toPlainText(), with its 1-based line
    // and column; -1 when valid.
    int errorPosition() const { return m_errorPosition; }
    int errorLine() const { return m_errorLine; }
    int errorColumn() const { return m_errorColumn; }
    // Just what is wrong, without the position (translated).
    QString errorMessage() const { return m_errorMessage; }

    // The value the text holds: Undefined when the text is empty or invalid.
    QJsonValue value() const { return m_value; }
    // Replaces the text (and the undo history); an Undefined value empties it.
    void setValue(const QJsonValue &value, bool pretty = true);

    // The JSON text of a value: indented with four spaces, or compact; empty for Undefined.
    static QString toText(const QJsonValue &value, bool pretty = true);

    QAction *formatAction() const { return m_formatAction; }

public Q_SLOTS:
    // Pretty-prints the text (one undoable step); does nothing while the text is invalid.
    void format();

Q_SIGNALS:
    void validityChanged(bool valid);

protected:
    bool viewportEvent(QEvent *event) override;
    void contextMenuEvent(QContextMenuEvent *event) override;
    void changeEvent(QEvent *event) override;

private:
    void validate();
    void updateErrorMark();
    void setError(const QString &text, int position, int length, const QString &message);

    QAction *m_formatAction = nullptr;
    QTimer *m_markTimer = nullptr;
    QJsonValue m_value;
    QString m_errorMessage;
    int m_errorPosition = -1;
    int m_errorLength = 0;
    int m_errorLine = 0;
    int m_errorColumn = 0;
    bool m_allowEmpty = false;
    bool m_empty = true;
    bool m_valid = false;
};

} // namespace OddJobs::Ui
