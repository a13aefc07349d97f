// Call keys: the secret a buyer presents to post back about one call. A key is derived from
// the call's UUID with HMAC-SHA256 under the server secret, so no key is stored anywhere: it
// can be rendered again into webhooks and SIP headers, and checked in constant time.
#pragma once

#include <string>
#include <string_view>

#include "core/crypto.h"

namespace core {

// Thread-safe after construction.
class CallKeys {
 public:
  // `secret` must hold at least 32 random bytes; all nodes of one deployment share it.
  explicit CallKeys(std::string_view secret) : mac_(secret) {}

  // 32 URL-safe characters carrying 192 bits.
  std::string Derive(std::string_view call_uuid) const;
  // Constant-time check of a presented key.
  bool Verify(std::string_view call_uuid, std::string_view presented) const;

 private:
  const HmacSha256Key mac_;  // the secret, prepared once
};

}  // namespace core
