#include "engine/call.h"

namespace engine {

namespace {
constexpr const char* kStatus[] = {"started", "routed", "answered", "ended", "completed"};
constexpr const char* kConversion[] = {"pending", "awaiting_postback", "converted",
                                       "not_converted"};
constexpr const char* kSource[] = {"system", "number", "edge", "postback", "carried", "publisher"};

template <typename E, size_t N>
std::optional<E> Find(const char* const (&names)[N], std::string_view s) {
  for (size_t i = 0; i < N; ++i) {
    if (s == names[i]) return static_cast<E>(i);
  }
  return std::nullopt;
}
}  // namespace

std::vector<std::string> Call::TagValues(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& t : tags) {
    if (t.key == key) out.push_back(t.value);
  }
  return out;
}

bool Call::HasTag(std::string_view key, std::string_view value) const {
  for (const auto& t : tags) {
    if (t.key == key && t.value == value) return true;
  }
  return false;
}

const char* ToString(Status s) { return kStatus[static_cast<int>(s)]; }
const char* ToString(ConversionState s) { return kConversion[static_cast<int>(s)]; }
const char* ToString(TagSource s) { return kSource[static_cast<int>(s)]; }
std::optional<TagSource> TagSourceFromString(std::string_view s) {
  return Find<TagSource>(kSource, s);
}
std::optional<Status> StatusFromString(std::string_view s) { return Find<Status>(kStatus, s); }
std::optional<ConversionState> ConversionStateFromString(std::string_view s) {
  return Find<ConversionState>(kConversion, s);
}

}  // namespace engine
