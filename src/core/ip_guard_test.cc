#include "core/ip_guard.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <string>

namespace core {
namespace {

TEST(IpGuardTest, Literals) {
  struct Case {
    std::string ip;
    bool want;
  };
  const Case kCases[] = {
      // Public.
      {"8.8.8.8", true},
      {"1.1.1.1", true},
      {"93.184.216.34", true},
      {"2606:4700:4700::1111", true},
      {"2a00:1450:4001:80b::200e", true},
      {"9.255.255.255", true},
      {"11.0.0.0", true},
      {"100.63.255.255", true},
      {"100.128.0.0", true},
      {"126.255.255.255", true},
      {"128.0.0.0", true},
      {"169.253.255.255", true},
      {"169.255.0.0", true},
      {"172.15.255.255", true},
      {"172.32.0.0", true},
      {"192.0.1.1", true},
      {"192.0.3.0", true},
      {"192.88.98.255", true},
      {"192.167.255.255", true},
      {"192.169.0.0", true},
      {"198.17.255.255", true},
      {"198.20.0.0", true},
      {"198.51.99.255", true},
      {"203.0.112.255", true},
      {"223.255.255.255", true},
      {"::ffff:8.8.8.8", true},
      {"::ffff:808:808", true},
      {"64:ff9b::8.8.8.8", true},
      {"2001:200::1", true},  // just past 2001::/23
      {"2003::1", true},
      {"3ffe:ffff::1", true},
      {"3fff:1000::1", true},  // just past 3fff::/20
      // IPv4 special-purpose ranges.
      {"0.0.0.0", false},
      {"0.255.255.255", false},
      {"10.0.0.1", false},
      {"10.255.255.255", false},
      {"100.64.0.1", false},
      {"100.127.255.255", false},
      {"127.0.0.1", false},
      {"127.255.255.254", false},
      {"169.254.169.254", false},
      {"169.254.0.1", false},
      {"172.16.0.1", false},
      {"172.31.255.255", false},
      {"192.0.0.1", false},
      {"192.0.0.170", false},
      {"192.0.2.1", false},
      {"192.88.99.1", false},
      {"192.168.1.1", false},
      {"198.18.0.1", false},
      {"198.19.255.255", false},
      {"198.51.100.7", false},
      {"203.0.113.9", false},
      {"224.0.0.1", false},
      {"239.255.255.250", false},
      {"240.0.0.1", false},
      {"255.255.255.255", false},
      // IPv6 special-purpose ranges.
      {"::", false},
      {"::1", false},
      {"0:0:0:0:0:0:0:1", false},
      {"::8.8.8.8", false},  // IPv4-compatible (deprecated)
      {"::808:808", false},
      {"::ffff:0:0", false},
      {"100::1", false},
      {"100::ffff:ffff:ffff:ffff", false},
      {"2001::1", false},  // Teredo
      {"2001:0:4136:e378:8000:63bf:3fff:fdd2", false},
      {"2001:2::1", false},  // benchmarking
      {"2001:1ff:ffff::1", false},
      {"2001:db8::1", false},
      {"2001:db8:ffff:ffff::1", false},
      {"2002:c000:0204::1", false},  // 6to4
      {"3fff::1", false},
      {"3fff:fff::1", false},
      {"fc00::1", false},
      {"fd12:3456:789a::1", false},
      {"fe80::1", false},
      {"febf:ffff::1", false},
      {"fec0::1", false},
      {"ff02::1", false},
      {"ff0e::101", false},
      {"64:ff9b:1::a00:1", false},  // local-use NAT64
      {"4000::1", false},           // outside 2000::/3
      {"1::1", false},
      {"e000::1", false},
      // Embedded IPv4 addresses, in spellings inet_pton accepts.
      {"::ffff:127.0.0.1", false},
      {"::ffff:7f00:1", false},
      {"::FFFF:7F00:0001", false},
      {"0:0:0:0:0:ffff:a9fe:a9fe", false},  // 169.254.169.254
      {"0000:0000:0000:0000:0000:ffff:10.1.2.3", false},
      {"::ffff:192.168.0.1", false},
      {"::ffff:100.64.0.1", false},
      {"64:ff9b::127.0.0.1", false},
      {"64:ff9b::a9fe:a9fe", false},
      {"64:ff9b::c0a8:1", false},
      // Not literals inet_pton accepts.
      {"[::1]", false},
      {"[2606:4700:4700::1111]", false},
      {"fe80::1%eth0", false},
      {"2606:4700:4700::1111%1", false},
      {"localhost", false},
      {"example.com", false},
      {"", false},
      {" 8.8.8.8", false},
      {"8.8.8.8 ", false},
      {"8.8.8", false},
      {"8.8.8.8.8", false},
      {"08.8.8.8", false},
      {"256.1.1.1", false},
      {"0x7f.1", false},
      {"0x08080808", false},
      {"2130706433", false},
      {"134744072", false},  // 8.8.8.8 as one number: refused too, not a literal
      {"8.8.8.8:80", false},
      {"1:2:3:4:5:6:7:8:9", false},
      {std::string("8.8.8.8\0junk", 12), false},
      {std::string(100, '1'), false},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(IsPublicAddress(c.ip), c.want) << "\"" << c.ip << "\"";
  }
}

// The sockaddr overload agrees with the literal one.
TEST(IpGuardTest, Sockaddr) {
  struct Case {
    std::string ip;
    bool want;
  };
  const Case kCases[] = {
      {"8.8.8.8", true},         {"127.0.0.1", false}, {"169.254.169.254", false},
      {"2606:4700::1111", true}, {"::1", false},       {"::ffff:127.0.0.1", false},
      {"::ffff:8.8.8.8", true},  {"fe80::1", false},   {"64:ff9b::a00:1", false},
  };
  for (const Case& c : kCases) {
    sockaddr_storage ss{};
    if (inet_pton(AF_INET, c.ip.c_str(), &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr) == 1) {
      ss.ss_family = AF_INET;
      reinterpret_cast<sockaddr_in*>(&ss)->sin_port = htons(443);
    } else {
      ASSERT_EQ(inet_pton(AF_INET6, c.ip.c_str(), &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr),
                1)
          << c.ip;
      ss.ss_family = AF_INET6;
      reinterpret_cast<sockaddr_in6*>(&ss)->sin6_scope_id = 2;
    }
    EXPECT_EQ(IsPublicAddress(reinterpret_cast<const sockaddr*>(&ss)), c.want) << c.ip;
    EXPECT_EQ(IsPublicAddress(c.ip), c.want) << c.ip;
  }

  EXPECT_FALSE(IsPublicAddress(static_cast<const sockaddr*>(nullptr)));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strcpy(un.sun_path, "/tmp/x");
  EXPECT_FALSE(IsPublicAddress(reinterpret_cast<const sockaddr*>(&un)));
  sockaddr_storage unspec{};
  unspec.ss_family = AF_UNSPEC;
  EXPECT_FALSE(IsPublicAddress(reinterpret_cast<const sockaddr*>(&unspec)));
}

// Odd numeric spellings that inet_pton refuses are normalised by the resolver: checking the
// resolved sockaddr, as documented, refuses them.
TEST(IpGuardTest, ResolvedOddSpellingsAreRefused) {
#ifndef __GLIBC__
  GTEST_SKIP() << "the numeric forms accepted by getaddrinfo are glibc's";
#endif
  struct Case {
    std::string host;
    std::string want_ip;
    bool want_public;
  };
  const Case kCases[] = {
      {"2130706433", "127.0.0.1", false},
      {"0x7f.1", "127.0.0.1", false},
      {"0x7f000001", "127.0.0.1", false},
      {"017700000001", "127.0.0.1", false},
      {"127.1", "127.0.0.1", false},
      {"0", "0.0.0.0", false},
      {"2852039166", "169.254.169.254", false},
      {"134744072", "8.8.8.8", true},
  };
  for (const Case& c : kCases) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    addrinfo* res = nullptr;
    ASSERT_EQ(getaddrinfo(c.host.c_str(), "443", &hints, &res), 0) << c.host;
    int count = 0;
    for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next, ++count) {
      ASSERT_EQ(ai->ai_family, AF_INET) << c.host;
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr, text,
                sizeof text);
      EXPECT_EQ(text, c.want_ip) << c.host;
      EXPECT_EQ(IsPublicAddress(ai->ai_addr), c.want_public) << c.host;
      EXPECT_FALSE(IsPublicAddress(c.host)) << c.host;  // not a literal inet_pton accepts
    }
    EXPECT_GE(count, 1) << c.host;
    freeaddrinfo(res);
  }
}

// A URL's host, read as libcurl and the resolver read it: every spelling of a refused address
// is refused before any connection, names are left to the check on the resolved address.
TEST(IpGuardTest, ClassifyHost) {
#ifndef __GLIBC__
  GTEST_SKIP() << "the numeric forms accepted by getaddrinfo are glibc's";
#endif
  struct Case {
    std::string host;
    HostKind want;
  };
  const Case kCases[] = {
      // Literal addresses that are not public, in every spelling.
      {"127.0.0.1", HostKind::kRefused},
      {"127.1", HostKind::kRefused},
      {"0x7f000001", HostKind::kRefused},
      {"0x7f.1", HostKind::kRefused},
      {"2130706433", HostKind::kRefused},
      {"017700000001", HostKind::kRefused},
      {"10.0.0.1", HostKind::kRefused},
      {"169.254.169.254", HostKind::kRefused},
      {"2852039166", HostKind::kRefused},  // 169.254.169.254
      {"0.0.0.0", HostKind::kRefused},
      {"0", HostKind::kRefused},
      {"192.168.1.1", HostKind::kRefused},
      {"[::1]", HostKind::kRefused},
      {"[::]", HostKind::kRefused},
      {"[0:0:0:0:0:0:0:1]", HostKind::kRefused},
      {"[::ffff:127.0.0.1]", HostKind::kRefused},
      {"[::FFFF:A9FE:A9FE]", HostKind::kRefused},
      {"[fe80::1%25eth0]", HostKind::kRefused},
      {"[fe80::1%eth0]", HostKind::kRefused},
      {"[fd00::1]", HostKind::kRefused},
      {"[2001:db8::1]", HostKind::kRefused},
      // localhost and names under it.
      {"localhost", HostKind::kRefused},
      {"LocalHost", HostKind::kRefused},
      {"localhost.", HostKind::kRefused},
      {"api.localhost", HostKind::kRefused},
      // Public literal addresses.
      {"8.8.8.8", HostKind::kPublic},
      {"134744072", HostKind::kPublic},  // 8.8.8.8
      {"[2606:4700:4700::1111]", HostKind::kPublic},
      {"[::ffff:8.8.8.8]", HostKind::kPublic},
      // Names (checked once resolved), and what is no address at all.
      {"example.com", HostKind::kName},
      {"buyer.example", HostKind::kName},
      {"localhost.example.com", HostKind::kName},
      {"notlocalhost", HostKind::kName},
      {".localhost", HostKind::kName},
      {"127.0.0.1.nip.io", HostKind::kName},
      {"8.8.8.8.8", HostKind::kName},
      {"256.1.1.1", HostKind::kName},
      {"::1", HostKind::kName},  // an IPv6 host is bracketed in a URL
      {"[127.0.0.1]", HostKind::kName},
      {"[::1", HostKind::kName},
      {"[]", HostKind::kName},
      {"127.0.0.1 ", HostKind::kName},
      {"", HostKind::kName},
      {std::string("127.0.0.1\0x", 11), HostKind::kName},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(ClassifyHost(c.host), c.want) << "\"" << c.host << "\"";
  }
}

}  // namespace
}  // namespace core
