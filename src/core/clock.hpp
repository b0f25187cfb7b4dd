// core/clock.hpp — time as a dependency.
//
// Everything that waits or stamps (backoff, rate limits, digests, leases, last_test) asks a Clock,
// so tests drive time with FakeClock (tests/support) instead of sleeping. Wall time only: the
// service stores timestamps, and the waits it computes from them are short enough that a wall
// clock step does no harm beyond one early or late retry.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tocsin {

using TimePoint = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  static SystemClock& Instance();
};

// Milliseconds since the Unix epoch; the storage format of every timestamp.
int64_t ToUnixMillis(TimePoint t);
TimePoint FromUnixMillis(int64_t ms);

// RFC 3339 in UTC with millisecond precision, e.g. "2026-12-04T10:00:00.000Z".
std::string FormatRfc3339(TimePoint t);
// Accepts RFC 3339 with 'Z' or a numeric offset, optional fraction. False on anything else.
bool ParseRfc3339(const std::string& text, TimePoint* out);

}  // namespace tocsin
