#pragma once

// Shared by the fuzz targets: input as text, and a check that stops the run with a message
// and a crash libFuzzer records (the input is saved as an artifact).

#include <QByteArray>
#include <QString>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace OddJobsFuzz {

inline QByteArray bytesOf(const uint8_t *data, size_t size)
{
    return QByteArray(reinterpret_cast<const char *>(data), qsizetype(size));
}

inline QString textOf(const uint8_t *data, size_t size)
{
    return QString::fromUtf8(reinterpret_cast<const char *>(data), qsizetype(size));
}

[[noreturn]] inline void failed(const char *condition, const QString &detail, const char *file,
                                int line)
{
    std::fprintf(stderr, "%s:%d: check failed: %s\n  %s\n", file, line, condition,
                 detail.toUtf8().constData());
    std::fflush(stderr);
    std::abort();
}

} // namespace OddJobsFuzz

#define FUZZ_CHECK(condition, detail)                                                              \
    do {                                                                                           \
        if (!(condition))                                                                          \
            ::OddJobsFuzz::failed(#condition, (detail), __FILE__, __LINE__);                       \
    } while (false)
