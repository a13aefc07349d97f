// Helpers shared by the fuzzers: a property check that stops the run (libFuzzer saves the
// input as a crash), and checks of the project's error conventions.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/result.h"

// Stops the fuzzer with a message when a property does not hold.
#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "property failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A refusal of bad input: a 400 with a sentence.
inline void CheckInvalidArgument(const core::Error& e) {
  FUZZ_CHECK(e.code == core::ErrorCode::kInvalidArgument);
  FUZZ_CHECK(!e.message.empty());
}

// A parser's error "<prefix>… at position N" with N a 1-based byte position in [1, size + 1]
// (size + 1: the end of the text, e.g. "expected a value").
inline void CheckPosition(const core::Error& e, std::string_view prefix, size_t size) {
  CheckInvalidArgument(e);
  FUZZ_CHECK(e.message.rfind(prefix, 0) == 0);
  FUZZ_CHECK(e.field.empty());
  const size_t at = e.message.rfind(" at position ");
  if (at == std::string::npos) return;  // e.g. "template: longer than 8192 bytes"
  const std::string digits = e.message.substr(at + 13);
  FUZZ_CHECK(!digits.empty() && digits.size() < 12 &&
             digits.find_first_not_of("0123456789") == std::string::npos);
  const unsigned long long n = std::strtoull(digits.c_str(), nullptr, 10);
  FUZZ_CHECK(n >= 1 && n <= size + 1);
}

}  // namespace fuzz
