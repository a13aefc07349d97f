// Time as integer milliseconds since the Unix epoch (UTC), RFC 3339 text, and the injectable
// Clock that every component reads time from (never the system clock directly), so tests can
// move time without sleeping.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace core {

using Millis = int64_t;  // milliseconds since 1970-01-01T00:00:00Z

// "2026-11-28T14:39:56.123Z".
std::string FormatRfc3339(Millis t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)"; nullopt when malformed.
std::optional<Millis> ParseRfc3339(std::string_view text);

// Source of the current time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Millis Now() const = 0;
};

// The real wall clock.
class SystemClock final : public Clock {
 public:
  Millis Now() const override;
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Millis start) : now_(start) {}
  Millis Now() const override { return now_.load(); }
  void Set(Millis t) { now_.store(t); }
  void Advance(Millis d) { now_.fetch_add(d); }

 private:
  std::atomic<Millis> now_;
};

}  // namespace core
