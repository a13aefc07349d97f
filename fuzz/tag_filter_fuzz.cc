// Fuzzes the "matches" tag filter (core/tag_filter.h). The input is the filter text, then
// optionally a NUL byte and the call's tags as "key=value" lines.
// Properties: no crash; a refusal names a byte position inside the text; an accepted filter's
// Canonical() parses back to an equal filter and is a fixed point; Keys() are distinct; the
// reparsed filter gives the same verdict on the same tags; lookup is asked once per key.
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/tag_filter.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = fuzz::AsText(data, size);
  const size_t nul = input.find('\0');
  const std::string_view text = input.substr(0, nul);

  auto filter = core::TagFilter::Parse(text);
  if (!filter) {
    fuzz::CheckPosition(filter.error(), "matches: ", text.size());
    return 0;
  }
  FUZZ_CHECK(filter->text() == text);
  const std::vector<std::string> keys = filter->Keys();
  FUZZ_CHECK(std::set<std::string>(keys.begin(), keys.end()).size() == keys.size());
  FUZZ_CHECK(filter->empty() == keys.empty());

  const std::string canonical = filter->Canonical();
  auto again = core::TagFilter::Parse(canonical);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == *filter);
  FUZZ_CHECK(again->Canonical() == canonical);

  std::map<std::string, std::vector<std::string>, std::less<>> tags;
  if (nul != std::string_view::npos) {
    std::string_view rest = input.substr(nul + 1);
    while (!rest.empty()) {
      const size_t end = rest.find('\n');
      const std::string_view line = rest.substr(0, end);
      const size_t eq = line.find('=');
      tags[std::string(line.substr(0, eq))].emplace_back(
          eq == std::string_view::npos ? std::string_view() : line.substr(eq + 1));
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    }
  }
  std::map<std::string, int, std::less<>> asked;
  const core::TagLookup lookup = [&](std::string_view key) -> const std::vector<std::string>* {
    ++asked[std::string(key)];
    auto it = tags.find(key);
    return it == tags.end() ? nullptr : &it->second;
  };
  const bool verdict = filter->Matches(lookup);
  for (const auto& [key, count] : asked) FUZZ_CHECK(count == 1);
  FUZZ_CHECK(again->Matches(lookup) == verdict);
  if (filter->empty()) FUZZ_CHECK(verdict);
  return 0;
}
