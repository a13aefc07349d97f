// SSRF guard for webhook targets: whether an IP address is a public unicast address that an
// outgoing request may connect to. Check the RESOLVED address at connect time, never the host
// name in the URL:
//   * resolve the host with getaddrinfo and check EVERY returned address (or connect only to
//     the ones that pass), then connect to exactly the checked sockaddr; never resolve again
//     (DNS rebinding). With libcurl, do the check in CURLOPT_OPENSOCKETFUNCTION (or pin the
//     checked address with CURLOPT_RESOLVE) and re-check on every redirect, or disable them.
//   * The resolver normalises odd spellings of numeric hosts ("2130706433", "0x7f.1",
//     "017700000001" all resolve to 127.0.0.1 on glibc), which the literal overload below does
//     not accept; that is why the check belongs on the resolved address.
#pragma once

#include <sys/socket.h>

#include <string_view>

namespace core {

// True when `addr` is an AF_INET or AF_INET6 address outside every special-purpose range (the
// list is in ip_guard.cc): not loopback, private, CGNAT, link-local (incl. the cloud metadata
// address 169.254.169.254), unique-local, multicast, broadcast, documentation, benchmarking,
// reserved, 6to4, Teredo, discard or IETF protocol assignment space. IPv6 must also be global
// unicast (2000::/3). An IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::a.b.c.d) IPv6 address
// is classified by its embedded IPv4 address; the deprecated IPv4-compatible form (::/96,
// including :: and ::1) is refused. False for a null pointer and for any other family. `addr`
// must point to a complete sockaddr_in or sockaddr_in6 (as from getaddrinfo or accept); the
// port and the IPv6 scope id are ignored.
bool IsPublicAddress(const sockaddr* addr);

// The same for a numeric address in inet_pton's syntax: dotted-quad IPv4 ("8.8.8.8"; no
// leading zeros, no hex, no fewer than four parts) or IPv6 text ("2606:4700::1111",
// "::ffff:127.0.0.1"). False for anything else, such as a host name, "[::1]", a zone
// ("fe80::1%eth0"), surrounding whitespace, an embedded NUL or "2130706433".
bool IsPublicAddress(std::string_view ip_literal);

// What a URL's host says about the address a request to it connects to, before any DNS query.
enum class HostKind {
  kName,     // a name to resolve: only its resolved addresses can be checked (IsPublicAddress)
  kPublic,   // a literal address IsPublicAddress accepts
  kRefused,  // a literal address IsPublicAddress refuses, or localhost: never reachable
};

// Classifies `host` as written in a URL's authority (no userinfo, no port), the way libcurl
// and glibc's resolver read it, so that the answer is the address the connection would use:
//   * an IPv4 address in any spelling getaddrinfo takes as numeric (AI_NUMERICHOST, which
//     follows inet_aton): "127.0.0.1", "127.1", "0x7f000001", "2130706433", "017700000001";
//   * an IPv6 address in brackets, with or without a zone ("[::1]", "[fe80::1%25eth0]"; the
//     zone is ignored, as IsPublicAddress ignores the scope id);
//   * "localhost" and any name under it ("a.localhost"), in any case, with or without a
//     trailing dot: loopback by RFC 6761, and libcurl resolves them so without asking DNS.
// kRefused for those that are not public, kPublic for the public addresses, kName for
// anything else (including text no URL parser would take as a host). Thread-safe; no IO.
HostKind ClassifyHost(std::string_view host);

}  // namespace core
