#include "http/metrics.h"

#include <cstdio>

namespace http {

void Metrics::Record(const std::string& route, int status, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{route, status}];
  Histogram& h = latency_[route];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::Render(std::string& out) const {
  std::lock_guard lock(mu_);
  char buf[64];
  out += "# HELP callpost_http_requests_total HTTP requests by route and status.\n";
  out += "# TYPE callpost_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += "callpost_http_requests_total{route=\"" + key.first + "\",status=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  }
  out += "# HELP callpost_http_request_duration_seconds Time to answer, by route.\n";
  out += "# TYPE callpost_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    const std::string prefix = "callpost_http_request_duration_seconds_bucket{route=\"" + route;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%g", kBuckets[i]);
      out += prefix + "\",le=\"" + buf + "\"} " + std::to_string(h.buckets[i]) + "\n";
    }
    out += prefix + "\",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
    std::snprintf(buf, sizeof buf, "%.6f", h.sum);
    out += "callpost_http_request_duration_seconds_sum{route=\"" + route + "\"} " + buf + "\n";
    out += "callpost_http_request_duration_seconds_count{route=\"" + route + "\"} " +
           std::to_string(h.count) + "\n";
  }
}

}  // namespace http
