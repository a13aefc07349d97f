// Request counters and latency histograms in Prometheus text format. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "core/histogram.h"

namespace http {

class Metrics {
 public:
  // Records one request by route pattern ("/calls/{uuid}/add_tags") and status.
  void Record(const std::string& route, int status, double seconds);
  // Appends the request metrics to `out` (Prometheus text format 0.0.4).
  void Render(std::string& out) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // guarded by mu_
  std::map<std::string, core::Histogram> latency_;            // guarded by mu_
};

}  // namespace http
