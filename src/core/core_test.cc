#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "core/call_key.h"
#include "core/crypto.h"
#include "core/histogram.h"
#include "core/ids.h"
#include "core/time.h"

namespace core {
namespace {

TEST(Rfc3339, RoundTripsAndRejects) {
  struct Case {
    const char* text;
    std::optional<Millis> want;
  } cases[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"2026-11-28T14:39:56.123Z", 1795876796123},
      {"2026-11-28T15:39:56.123+01:00", 1795876796123},
      {"2024-02-29T00:00:00.5Z", 1709164800500},
      {"2026-13-01T00:00:00Z", std::nullopt},
      {"2026-02-29T10:00:00Z", std::nullopt},  // not a leap year: no 29 February
      {"1900-02-29T00:00:00Z", std::nullopt},  // a century, not a leap year
      {"2000-02-29T00:00:00Z", 951782400000},  // a leap century
      {"2026-04-31T00:00:00Z", std::nullopt},
      {"2026-11-28 14:39:56", std::nullopt},
      {"2026-11-28T14:39:56.Z", std::nullopt},
      {"yesterday", std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ParseRfc3339(c.text), c.want) << c.text;
  }
  EXPECT_EQ(FormatRfc3339(1795876796123), "2026-11-28T14:39:56.123Z");
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339(253402300799999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339(253402300800000), "10000-01-01T00:00:00.000Z");  // past 4 digits
  // Times all over 2000-02-29 and the day after round trip.
  for (Millis t = 951782400000; t < 951782400000 + 2 * 86400000; t += 999983) {
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(t)), t) << t;
  }
}

TEST(Uuid, NewIsV4AndNormalizes) {
  std::string u = NewUuidV4();
  ASSERT_EQ(NormalizeUuid(u), u);
  EXPECT_EQ(u[14], '4');
  EXPECT_NE(NewUuidV4(), u);
  EXPECT_EQ(NormalizeUuid("0A1B2C3D-0000-4000-8000-00000000000F"),
            "0a1b2c3d-0000-4000-8000-00000000000f");
  for (const char* bad :
       {"", "not-a-uuid", "0a1b2c3d00004000800000000000000f",
        "0a1b2c3d-0000-4000-8000-00000000000g", "0a1b2c3d-0000-4000-8000_00000000000f"}) {
    EXPECT_FALSE(NormalizeUuid(bad)) << bad;
  }
}

TEST(Utf8, Validates) {
  struct Case {
    std::string text;
    bool ok;
  } cases[] = {{"plain", true},         {"caf\xc3\xa9", true},
               {"\xe2\x82\xac", true},  {"\xf0\x9f\x93\x9e", true},
               {"\xc3", false},         {"\xc0\xaf", false},
               {"\xed\xa0\x80", false}, {"\xff", false},
               {"\xe2\x82", false}};
  for (const auto& c : cases) EXPECT_EQ(IsValidUtf8(c.text), c.ok) << HexEncode(c.text);
}

TEST(Phone, Normalizes) {
  struct Case {
    const char* in;
    std::optional<std::string> want;
  } cases[] = {{"+15551230000", "+15551230000"},   {"5551230000", "+15551230000"},
               {"(555) 123-0000", "+15551230000"}, {"1-555-123-0000", "+15551230000"},
               {"+442071234567", "+442071234567"}, {"12345", std::nullopt},
               {"+1555abc0000", std::nullopt},     {"", std::nullopt}};
  for (const auto& c : cases) EXPECT_EQ(NormalizePhone(c.in), c.want) << c.in;
  EXPECT_EQ(NanpNational("+15551230000"), "5551230000");
}

TEST(CallKeys, DeriveVerify) {
  CallKeys keys(std::string(32, 's'));
  std::string uuid = NewUuidV4();
  std::string key = keys.Derive(uuid);
  EXPECT_EQ(key.size(), 32u);
  EXPECT_TRUE(keys.Verify(uuid, key));
  EXPECT_FALSE(keys.Verify(uuid, key.substr(1)));
  EXPECT_FALSE(keys.Verify(NewUuidV4(), key));
  EXPECT_NE(CallKeys(std::string(32, 't')).Derive(uuid), key);
  // Keys handed out must keep working across versions: the derivation is pinned.
  EXPECT_EQ(keys.Derive("00000000-0000-4000-8000-000000000001"),
            "YuqxDw3wpa-LJK1HFyhDeJZWngBbVwed");
}

TEST(Crypto, Base64AndHmac) {
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  std::string out;
  ASSERT_TRUE(Base64Decode("Zm9vYmE=", out));
  EXPECT_EQ(out, "fooba");
  EXPECT_FALSE(Base64Decode("Zm9v!", out));
  // RFC 4231 test case 2.
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// The prepared key against OpenSSL's one-shot HMAC(), for keys shorter than, as long as and longer
// than SHA-256's 64-byte block (longer keys are hashed first), and RFC 4231 test case 6.
TEST(Crypto, PreparedHmacMatchesOpenSslForEveryKeyLength) {
  for (size_t key_size : {0, 1, 20, 63, 64, 65, 131, 300}) {
    std::string key(key_size, '\0');
    for (size_t i = 0; i < key_size; ++i) key[i] = static_cast<char>(i * 7 + 1);
    for (size_t data_size : {0, 1, 55, 56, 64, 200}) {
      const std::string data(data_size, 'd');
      unsigned char expected[32];
      unsigned int len = 0;
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), expected, &len);
      EXPECT_EQ(HmacSha256Key(key).Sign(data),
                std::string(reinterpret_cast<const char*>(expected), len))
          << key_size << " " << data_size;
    }
  }
  EXPECT_EQ(HexEncode(HmacSha256Key(std::string(131, '\xaa'))
                          .Sign("Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// Random bytes come from a per-thread buffer: requests across its 4 KiB refills, and no two draws
// alike.
TEST(Crypto, RandomBytesAcrossBufferRefills) {
  std::set<std::string> seen;
  for (size_t n : {0, 1, 16, 4095, 4096, 4097, 10000}) {
    EXPECT_EQ(RandomBytes(n).size(), n);
  }
  for (int i = 0; i < 2000; ++i) EXPECT_TRUE(seen.insert(RandomBytes(16)).second);
}

TEST(Histogram, PrometheusTextWithAndWithoutLabels) {
  Histogram h{0.5, 1};
  h.Observe(0.25);
  h.Observe(1);
  h.Observe(3);
  std::string out;
  h.Render(out, "x_seconds");
  EXPECT_EQ(out,
            "x_seconds_bucket{le=\"0.5\"} 1\nx_seconds_bucket{le=\"1\"} 2\n"
            "x_seconds_bucket{le=\"+Inf\"} 3\nx_seconds_sum 4.250000\nx_seconds_count 3\n");
  out.clear();
  Histogram{0.5}.Render(out, "y", "route=\"/a\"");
  EXPECT_EQ(out,
            "y_bucket{route=\"/a\",le=\"0.5\"} 0\ny_bucket{route=\"/a\",le=\"+Inf\"} 0\n"
            "y_sum{route=\"/a\"} 0.000000\ny_count{route=\"/a\"} 0\n");
}

TEST(Crypto, PreparedHmacKeySignsManyMessagesFromManyThreads) {
  const HmacSha256Key jefe("Jefe");
  const HmacSha256Key other(std::string(20, '\x0b'));  // RFC 4231 test case 1
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (HexEncode(jefe.Sign("what do ya want for nothing?")) !=
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" ||
            HexEncode(other.Sign("Hi There")) !=
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" ||
            jefe.Sign(std::to_string(i)) != HmacSha256("Jefe", std::to_string(i))) {
          ++wrong;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace core
