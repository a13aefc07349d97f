#include "webhook/transfer.h"

#include <gtest/gtest.h>

namespace webhook {
namespace {

TEST(TransferTest, ErrorClass) {
  struct Case {
    CURLcode code;
    bool refused, too_large;
    std::string_view detail;
    std::string want;
  };
  const Case kCases[] = {
      {CURLE_OK, false, false, "", ""},
      {CURLE_OPERATION_TIMEDOUT, false, false,
       "Operation timed out after 15001 milliseconds with 0 bytes received", "timeout"},
      {CURLE_OPERATION_TIMEDOUT, false, false, "Connection timed out after 5001 milliseconds",
       "connect"},
      {CURLE_OPERATION_TIMEDOUT, false, false, "Resolving timed out after 5000 milliseconds",
       "dns"},
      {CURLE_COULDNT_RESOLVE_HOST, false, false, "", "dns"},
      {CURLE_COULDNT_CONNECT, false, false, "", "connect"},
      {CURLE_COULDNT_CONNECT, true, false, "", "refused_address"},
      {CURLE_PEER_FAILED_VERIFICATION, false, false, "", "tls"},
      {CURLE_SSL_CONNECT_ERROR, false, false, "", "tls"},
      {CURLE_WRITE_ERROR, false, true, "", "too_large"},
      {CURLE_WRITE_ERROR, false, false, "", "transport"},
      {CURLE_URL_MALFORMAT, false, false, "", "bad_url"},
      {CURLE_UNSUPPORTED_PROTOCOL, false, false, "", "bad_url"},
      {CURLE_RECV_ERROR, false, false, "", "transport"},
      {CURLE_GOT_NOTHING, false, false, "", "transport"},
      {CURLE_PARTIAL_FILE, false, false, "", "transport"},
      {CURLE_ABORTED_BY_CALLBACK, false, false, "", "transport"},  // a third send refused
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(ErrorClass(c.code, c.refused, c.too_large, c.detail), c.want)
        << curl_easy_strerror(c.code) << " / " << c.detail;
  }
}

TEST(TransferTest, HostKey) {
  struct Case {
    std::string url;
    std::optional<std::string> want;
  };
  const Case kCases[] = {
      {"https://Buyer.Example/p?x=1", "buyer.example:443"},
      {"http://buyer.example/p", "buyer.example:80"},
      {"http://buyer.example:8080/p", "buyer.example:8080"},
      {"https://user:pw@buyer.example:9443/", "buyer.example:9443"},
      {"http://[2001:db8::1]:81/", "[2001:db8::1]:81"},
      {"http://127.0.0.1:5000/x", "127.0.0.1:5000"},
      {"https://", std::nullopt},
      {"https://:443/", std::nullopt},
      {"not a url", std::nullopt},
      {"http://buyer.example:99999/", std::nullopt},
      {"http://buyer.example:65535/", "buyer.example:65535"},
      {"HTTP://Buyer.Example:0080/p", "buyer.example:80"},
      // Not RFC 3986, but libcurl sends it: read as libcurl reads it.
      {"http://Buyer.Example/a|b", "buyer.example:80"},
      {"http://buyer.example:8081/a b", std::nullopt},  // nor does libcurl take a space
  };
  for (const Case& c : kCases) EXPECT_EQ(HostKey(c.url), c.want) << c.url;
}

}  // namespace
}  // namespace webhook
