#pragma once

// Records a model's change signals in the order they were emitted, as one line of text:
// "remove(0,1) insert(1,4) changed(2,1:2,1) reset". The "about to" halves are left out (the
// QAbstractItemModelTester checks that they pair up); one QCOMPARE then checks a whole
// sequence, which separate QSignalSpys per signal cannot (they lose the interleaving).

#include <QAbstractItemModel>
#include <QObject>
#include <QStringList>

class ModelRecorder : public QObject
{
public:
    explicit ModelRecorder(QAbstractItemModel *model)
    {
        using M = QAbstractItemModel;
        connect(model, &M::rowsInserted, this,
                [this](const QModelIndex &parent, int first, int last) {
                    add(QStringLiteral("insert(%1,%2)").arg(first).arg(last), parent);
                });
        connect(model, &M::rowsRemoved, this,
                [this](const QModelIndex &parent, int first, int last) {
                    add(QStringLiteral("remove(%1,%2)").arg(first).arg(last), parent);
                });
        connect(model, &M::rowsMoved, this,
                [this](const QModelIndex &, int first, int last, const QModelIndex &, int to) {
                    m_events << QStringLiteral("move(%1,%2->%3)").arg(first).arg(last).arg(to);
                });
        connect(model, &M::dataChanged, this,
                [this](const QModelIndex &topLeft, const QModelIndex &bottomRight) {
                    m_events << QStringLiteral("changed(%1,%2:%3,%4)")
                                    .arg(topLeft.row())
                                    .arg(topLeft.column())
                                    .arg(bottomRight.row())
                                    .arg(bottomRight.column());
                });
        connect(model, &M::modelReset, this, [this] { m_events << QStringLiteral("reset"); });
        connect(model, &M::layoutChanged, this, [this] { m_events << QStringLiteral("layout"); });
        connect(model, &M::columnsInserted, this,
                [this] { m_events << QStringLiteral("columns-inserted"); });
        connect(model, &M::columnsRemoved, this,
                [this] { m_events << QStringLiteral("columns-removed"); });
    }

    QString text() const { return m_events.join(QLatin1Char(' ')); }
    // The sequence so far, and forget it.
    QString take()
    {
        const QString result = text();
        m_events.clear();
        return result;
    }

private:
    void add(const QString &event, const QModelIndex &parent)
    {
        m_events << (parent.isValid() ? event + QStringLiteral("[child]") : event);
    }

    QStringList m_events;
};
