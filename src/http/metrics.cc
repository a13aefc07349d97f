#include "http/metrics.h"

#include <cstdio>

namespace http {
namespace {

// A label value as the text format wants it: backslash, double quote and newline escaped.
// (Routes are the code's own patterns; this keeps the exposition valid whatever they hold.)
std::string Label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

void Metrics::Record(const std::string& route, int status, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{route, status}];
  auto it = latency_.find(route);
  if (it == latency_.end()) {
    it = latency_
             .emplace(route, core::Histogram{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25, 0.5, 1, 5})
             .first;
  }
  it->second.Observe(seconds);
}

void Metrics::Render(std::string& out) const {
  std::lock_guard lock(mu_);
  out += "# HELP callpost_http_requests_total HTTP requests by route and status.\n";
  out += "# TYPE callpost_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += "callpost_http_requests_total{route=\"" + Label(key.first) + "\",status=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  }
  out += "# HELP callpost_http_request_duration_seconds Time to answer, by route.\n";
  out += "# TYPE callpost_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    h.Render(out, "callpost_http_request_duration_seconds", "route=\"" + Label(route) + "\"");
  }
}

}  // namespace http
