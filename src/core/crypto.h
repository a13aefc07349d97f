// Cryptographic helpers over OpenSSL: CSPRNG bytes, SHA-256, HMAC-SHA256, base64 (standard and
// URL-safe) and constant-time comparison. Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace core {

// `n` bytes from OpenSSL's CSPRNG (through a per-thread buffer, each byte handed out once). Aborts
// the process if the CSPRNG fails (never silently weak).
std::string RandomBytes(size_t n);

// Raw 32-byte digests.
std::string Sha256(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);

// An HMAC-SHA256 key prepared once (its inner and outer SHA-256 states), for a key that signs many
// messages: each Sign copies the prepared states instead of hashing the key again. Thread-safe.
class HmacSha256Key {
 public:
  explicit HmacSha256Key(std::string_view key);
  ~HmacSha256Key();
  HmacSha256Key(const HmacSha256Key&) = delete;
  HmacSha256Key& operator=(const HmacSha256Key&) = delete;

  std::string Sign(std::string_view data) const;  // the raw 32-byte MAC

 private:
  struct Ctx;
  Ctx* keyed_;
};

std::string HexEncode(std::string_view bytes);
std::string Base64Encode(std::string_view bytes);     // standard alphabet, padded
std::string Base64UrlEncode(std::string_view bytes);  // URL-safe alphabet, unpadded
// Decodes the standard alphabet (padding optional); false on malformed input.
bool Base64Decode(std::string_view text, std::string& out);

// Compares in time that depends only on the lengths, never on where the inputs differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// A URL-safe random token of `bytes` random bytes with a prefix, e.g. "cp_live_…".
std::string RandomToken(std::string_view prefix, size_t bytes);

}  // namespace core
