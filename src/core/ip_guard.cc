#include "core/ip_guard.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace core {
namespace {

// A prefix of an address: the first `bits` bits of `prefix` (IPv4 in host order).
struct V4Range {
  uint32_t prefix;
  int bits;
};

constexpr uint32_t V4(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

// IPv4 special-purpose ranges (IANA registry, RFC 6890 and successors) that are refused.
constexpr V4Range kV4NotPublic[] = {
    {V4(0, 0, 0, 0), 8},        // "this network"
    {V4(10, 0, 0, 0), 8},       // private
    {V4(100, 64, 0, 0), 10},    // shared address space (CGNAT)
    {V4(127, 0, 0, 0), 8},      // loopback
    {V4(169, 254, 0, 0), 16},   // link-local, incl. 169.254.169.254 (cloud metadata)
    {V4(172, 16, 0, 0), 12},    // private
    {V4(192, 0, 0, 0), 24},     // IETF protocol assignments
    {V4(192, 0, 2, 0), 24},     // documentation (TEST-NET-1)
    {V4(192, 88, 99, 0), 24},   // 6to4 relay anycast (deprecated)
    {V4(192, 168, 0, 0), 16},   // private
    {V4(198, 18, 0, 0), 15},    // benchmarking
    {V4(198, 51, 100, 0), 24},  // documentation (TEST-NET-2)
    {V4(203, 0, 113, 0), 24},   // documentation (TEST-NET-3)
    {V4(224, 0, 0, 0), 4},      // multicast
    {V4(240, 0, 0, 0), 4},      // reserved, incl. 255.255.255.255 (broadcast)
};

bool IsPublicV4(uint32_t a) {  // host order
  for (const V4Range& r : kV4NotPublic) {
    const uint32_t mask = r.bits == 0 ? 0 : ~uint32_t{0} << (32 - r.bits);
    if ((a & mask) == r.prefix) return false;
  }
  return true;
}

// An IPv6 prefix: the first `bits` bits of the 16 bytes.
struct V6Range {
  uint8_t prefix[16];
  int bits;
};

bool InV6Range(const uint8_t (&a)[16], const V6Range& r) {
  int bits = r.bits;
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xFF : static_cast<uint8_t>(0xFF << (8 - bits));
    if ((a[i] & mask) != (r.prefix[i] & mask)) return false;
  }
  return true;
}

// Prefixes whose last 32 bits are an IPv4 address to classify instead.
constexpr V6Range kV6EmbeddingV4[] = {
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}, 96},        // ::ffff:0:0/96, IPv4-mapped
    {{0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0}, 96},  // 64:ff9b::/96, NAT64 well-known
};

// Refused IPv6 ranges. Only 2001::/23, 2001:db8::/32, 2002::/16 and 3fff::/20 are inside
// 2000::/3 (global unicast, the only space allowed); the others are listed for clarity.
constexpr V6Range kV6NotPublic[] = {
    {{}, 96},                                    // ::/96 IPv4-compatible, incl. :: and ::1
    {{0x00, 0x64, 0xFF, 0x9B, 0x00, 0x01}, 48},  // 64:ff9b:1::/48, local-use NAT64
    {{0x01, 0x00}, 64},                          // 100::/64, discard-only
    {{0x20, 0x01, 0x00, 0x00}, 23},              // 2001::/23, IETF protocol assignments
                                                 // (incl. 2001::/32 Teredo)
    {{0x20, 0x01, 0x0D, 0xB8}, 32},              // 2001:db8::/32, documentation
    {{0x20, 0x02}, 16},                          // 2002::/16, 6to4
    {{0x3F, 0xFF, 0x00}, 20},                    // 3fff::/20, documentation (RFC 9637)
    {{0xFC}, 7},                                 // fc00::/7, unique local
    {{0xFE, 0x80}, 10},                          // fe80::/10, link-local
    {{0xFE, 0xC0}, 10},                          // fec0::/10, site-local (deprecated)
    {{0xFF}, 8},                                 // ff00::/8, multicast
};

constexpr V6Range kV6GlobalUnicast = {{0x20}, 3};  // 2000::/3

bool IsPublicV6(const uint8_t (&a)[16]) {
  for (const V6Range& r : kV6EmbeddingV4) {
    if (InV6Range(a, r)) {
      return IsPublicV4((uint32_t{a[12]} << 24) | (uint32_t{a[13]} << 16) | (uint32_t{a[14]} << 8) |
                        a[15]);
    }
  }
  for (const V6Range& r : kV6NotPublic) {
    if (InV6Range(a, r)) return false;
  }
  return InV6Range(a, kV6GlobalUnicast);
}

char ToLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsLocalhost(std::string_view host) {
  if (host.ends_with('.')) host.remove_suffix(1);
  std::string lower(host.size(), '\0');
  for (size_t i = 0; i < host.size(); ++i) lower[i] = ToLower(host[i]);
  constexpr std::string_view kLocalhost = "localhost";
  return lower == kLocalhost ||
         (lower.size() > kLocalhost.size() + 1 && lower.ends_with(".localhost"));
}

// The address getaddrinfo reads `numeric` as without a DNS query (AI_NUMERICHOST), classified.
HostKind ClassifyNumeric(const std::string& numeric, int family) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* res = nullptr;
  if (getaddrinfo(numeric.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
    return HostKind::kName;
  }
  HostKind kind = HostKind::kPublic;
  for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (!IsPublicAddress(ai->ai_addr)) kind = HostKind::kRefused;
  }
  freeaddrinfo(res);
  return kind;
}

}  // namespace

HostKind ClassifyHost(std::string_view host) {
  if (host.empty() || host.size() > 255 || host.find('\0') != std::string_view::npos) {
    return HostKind::kName;
  }
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return HostKind::kName;
    std::string_view address = host.substr(1, host.size() - 2);
    address = address.substr(0, address.find('%'));  // the zone
    return ClassifyNumeric(std::string(address), AF_INET6);
  }
  if (IsLocalhost(host)) return HostKind::kRefused;
  return ClassifyNumeric(std::string(host), AF_INET);
}

bool IsPublicAddress(const sockaddr* addr) {
  if (addr == nullptr) return false;
  if (addr->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, addr, sizeof in);
    return IsPublicV4(ntohl(in.sin_addr.s_addr));
  }
  if (addr->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, addr, sizeof in6);
    uint8_t bytes[16];
    std::memcpy(bytes, &in6.sin6_addr, sizeof bytes);
    return IsPublicV6(bytes);
  }
  return false;
}

bool IsPublicAddress(std::string_view ip_literal) {
  if (ip_literal.size() >= INET6_ADDRSTRLEN || ip_literal.find('\0') != std::string_view::npos) {
    return false;
  }
  const std::string text(ip_literal);
  in_addr v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return IsPublicV4(ntohl(v4.s_addr));
  uint8_t v6[16];
  if (inet_pton(AF_INET6, text.c_str(), v6) == 1) return IsPublicV6(v6);
  return false;
}

}  // namespace core
