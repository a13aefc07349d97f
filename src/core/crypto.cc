// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but stay supported; HMAC
// below needs the hash state they expose (see HmacSha256Key).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "core/crypto.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace core {

std::string RandomBytes(size_t n) {
  // Drawn from a per-thread buffer filled 4 KiB at a time: OpenSSL's DRBG costs about the same
  // for 16 bytes as for 4 KiB (a lock, a provider call), and every call and webhook draws some.
  // The process never forks, so no two processes share a buffer.
  struct Pool {
    unsigned char bytes[4096];
    size_t used = sizeof bytes;
  };
  thread_local Pool pool;
  std::string out(n, '\0');
  size_t done = 0;
  while (done < n) {
    if (pool.used == sizeof pool.bytes) {
      if (RAND_bytes(pool.bytes, static_cast<int>(sizeof pool.bytes)) != 1) std::abort();
      pool.used = 0;
    }
    const size_t take = std::min(n - done, sizeof pool.bytes - pool.used);
    std::memcpy(out.data() + done, pool.bytes + pool.used, take);
    OPENSSL_cleanse(pool.bytes + pool.used, take);  // each byte is handed out once
    pool.used += take;
    done += take;
  }
  return out;
}

std::string Sha256(std::string_view data) {
  // The block function itself: OpenSSL 3's one-shot SHA256() looks the algorithm up each time,
  // and every API request hashes its key.
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), data.size());
  SHA256_Final(reinterpret_cast<unsigned char*>(out.data()), &ctx);
  return out;
}

// HMAC (RFC 2104) over OpenSSL's SHA-256 block function: the key's inner and outer hash states
// are computed once, and a MAC copies them (a plain struct) and hashes two short messages.
// OpenSSL 3's EVP_MAC does the same work behind a provider lookup, a context allocation and a
// deep copy per MAC, which cost several times the hashing for call keys and webhook signatures.
struct HmacSha256Key::Ctx {
  SHA256_CTX inner;
  SHA256_CTX outer;
};

HmacSha256Key::HmacSha256Key(std::string_view key) : keyed_(new Ctx) {
  unsigned char block[SHA256_CBLOCK] = {};
  if (key.size() > sizeof block) {
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), block);
  } else {
    std::memcpy(block, key.data(), key.size());
  }
  unsigned char pad[SHA256_CBLOCK];
  for (size_t i = 0; i < sizeof block; ++i) pad[i] = block[i] ^ 0x36;
  SHA256_Init(&keyed_->inner);
  SHA256_Update(&keyed_->inner, pad, sizeof pad);
  for (size_t i = 0; i < sizeof block; ++i) pad[i] = block[i] ^ 0x5c;
  SHA256_Init(&keyed_->outer);
  SHA256_Update(&keyed_->outer, pad, sizeof pad);
  OPENSSL_cleanse(block, sizeof block);
  OPENSSL_cleanse(pad, sizeof pad);
}

HmacSha256Key::~HmacSha256Key() {
  OPENSSL_cleanse(keyed_, sizeof *keyed_);
  delete keyed_;
}

std::string HmacSha256Key::Sign(std::string_view data) const {
  // The prepared states are only read (copied), so threads can sign at once.
  unsigned char inner_digest[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx = keyed_->inner;
  SHA256_Update(&ctx, data.data(), data.size());
  SHA256_Final(inner_digest, &ctx);
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  ctx = keyed_->outer;
  SHA256_Update(&ctx, inner_digest, sizeof inner_digest);
  SHA256_Final(reinterpret_cast<unsigned char*>(out.data()), &ctx);
  OPENSSL_cleanse(&ctx, sizeof ctx);
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  // Preparing a key is two block hashes now: no cache of prepared keys (and of secrets) needed.
  return HmacSha256Key(key).Sign(data);
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

namespace {

std::string Base64With(std::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = at(i) << 16;
    if (rest == 2) v |= at(i + 1) << 8;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (rest == 2) out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.append(rest == 1 ? "==" : "=");
  }
  return out;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  return Base64With(bytes, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                    true);
}

std::string Base64UrlEncode(std::string_view bytes) {
  return Base64With(bytes, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                    false);
}

bool Base64Decode(std::string_view text, std::string& out) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return false;
  out.clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else
      return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string RandomToken(std::string_view prefix, size_t bytes) {
  return std::string(prefix) + Base64UrlEncode(RandomBytes(bytes));
}

}  // namespace core
