// FakeClock: time that moves only when a test says so.
#pragma once

#include <atomic>

#include "core/clock.hpp"

namespace tocsin::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = FromUnixMillis(1796378400000))  // 2026-12-04T10:00:00Z
      : now_ms_(ToUnixMillis(start)) {}
  TimePoint Now() const override { return FromUnixMillis(now_ms_.load()); }
  void Advance(Millis d) { now_ms_ += d.count(); }
  void Set(TimePoint t) { now_ms_ = ToUnixMillis(t); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace tocsin::testing
