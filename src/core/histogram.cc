#include "core/histogram.h"

#include <cstdio>

namespace core {

void Histogram::Observe(double value) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) ++buckets_[i];
  }
  ++count_;
  sum_ += value;
}

void Histogram::Render(std::string& out, std::string_view name, std::string_view labels) const {
  const std::string n(name);
  const std::string with = labels.empty() ? std::string() : std::string(labels) + ",";
  const std::string own = labels.empty() ? std::string() : "{" + std::string(labels) + "}";
  char num[64];
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    if (i < bounds_.size()) {
      std::snprintf(num, sizeof num, "%g", bounds_[i]);
    } else {
      std::snprintf(num, sizeof num, "+Inf");
    }
    const uint64_t in = i < bounds_.size() ? buckets_[i] : count_;
    out += n + "_bucket{" + with + "le=\"" + num + "\"} " + std::to_string(in) + "\n";
  }
  std::snprintf(num, sizeof num, "%.6f", sum_);
  out += n + "_sum" + own + " " + num + "\n";
  out += n + "_count" + own + " " + std::to_string(count_) + "\n";
}

}  // namespace core
