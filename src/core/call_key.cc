#include "core/call_key.h"

#include "core/crypto.h"

namespace core {

std::string CallKeys::Derive(std::string_view call_uuid) const {
  std::string mac = mac_.Sign(std::string("callpost call key v1:").append(call_uuid));
  return Base64UrlEncode(std::string_view(mac).substr(0, 24));
}

bool CallKeys::Verify(std::string_view call_uuid, std::string_view presented) const {
  return ConstantTimeEquals(Derive(call_uuid), presented);
}

}  // namespace core
