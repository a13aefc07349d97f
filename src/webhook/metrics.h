// The dispatcher's Prometheus metrics: attempts by outcome, attempt duration, work in flight.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/histogram.h"
#include "store/store.h"

namespace webhook {

// Thread-safe.
class Metrics {
 public:
  // Counts one finished attempt by its verdict's state, with its duration when a request was
  // sent (none for a delivery failed before sending: group deleted, bad URL…).
  void RecordAttempt(store::DeliveryState verdict, std::optional<double> seconds);
  // Counts deliveries the dispatcher took: handed over by the unit of work that made them, or
  // claimed from the outbox (retries, and what found no room when it was made).
  void RecordTaken(bool handed, int64_t n);
  // Appends callpost_webhook_attempts_total{outcome}, the
  // callpost_webhook_attempt_duration_seconds histogram, callpost_webhook_taken_total{how},
  // and the gauges
  // callpost_webhook_in_flight (requests on the wire), callpost_webhook_queued (claimed,
  // waiting for a per-host slot) and callpost_webhook_accounts_waiting (accounts with due
  // deliveries left in the outbox at the last claim because they held their whole share), in
  // Prometheus text format 0.0.4.
  void Render(std::string& out, int64_t in_flight, int64_t queued, int64_t accounts_waiting) const;

 private:
  mutable std::mutex mu_;
  // Guarded by mu_.
  uint64_t delivered_ = 0, retry_ = 0, failed_ = 0;
  uint64_t handed_ = 0, claimed_ = 0;
  core::Histogram duration_{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30};
};

}  // namespace webhook
