// A Prometheus histogram's state: cumulative buckets with fixed upper bounds, a count and a
// sum, and its text format (0.0.4). Not thread-safe: its owner locks.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace core {

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, ascending (+Inf is added when rendered).
  explicit Histogram(std::initializer_list<double> bounds)
      : bounds_(bounds), buckets_(bounds_.size(), 0) {}

  void Observe(double value);

  // Appends NAME_bucket{LABELS,le="…"} for each bound and +Inf, NAME_sum{LABELS} and
  // NAME_count{LABELS}; `labels` is empty or `key="value"` pairs joined by commas.
  void Render(std::string& out, std::string_view name, std::string_view labels = {}) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace core
