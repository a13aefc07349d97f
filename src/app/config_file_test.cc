#include "app/config_file.h"

#include <gtest/gtest.h>

namespace app {
namespace {

TEST(ConfigSyntax, TheFilesTheDocsShowAreAccepted) {
  EXPECT_EQ(ConfigSyntaxError(R"(# /etc/callpost/callpost.toml
[serve]
listen = "127.0.0.1:8080"
data-dir = "/var/lib/callpost"   # a comment after a value
public-url = 'https://calls.example.com'
threads = 2
api-key-rate = 50.5
allow-private-webhooks = true
secret = "0123456789abcdef0123456789abcdef"

[accounts.create]
data-dir = "/var/lib/callpost"
)"),
            std::nullopt);
  EXPECT_EQ(ConfigSyntaxError(""), std::nullopt);
  EXPECT_EQ(ConfigSyntaxError("\r\n  \n# only a comment\r\n"), std::nullopt);
}

TEST(ConfigSyntax, ABrokenLineIsNamed) {
  struct Case {
    const char* text;
    const char* want;
  };
  const Case kCases[] = {
      {"[serve\nlisten = \"127.0.0.1:1\"", "line 1: a table header is [name] or [name.name]"},
      {"[serve]\nlisten = 127.0.0.1:8080",
       "line 2: a value is a quoted string (\"…\"), a number or true/false"},
      {"[serve]\n\nlisten = \"127.0.0.1:8080",
       "line 3: a value is a quoted string (\"…\"), a "
       "number or true/false"},
      {"[serve]\nlisten \"x\"", "line 2: expected key = value"},
      {"[serve]\n= 1", "line 2: expected key = value"},
      {"[serve]\ndata dir = \"x\"", "line 2: a key is letters, digits, '-' and '_'"},
      {"[serve]\nthreads = 2 3",
       "line 2: a value is a quoted string (\"…\"), a number or "
       "true/false"},
      {"[serve]\nallow-private-webhooks = yes",
       "line 2: a value is a quoted string (\"…\"), a "
       "number or true/false"},
      {"[serve]\nthreads =", "line 2: a value is a quoted string (\"…\"), a number or true/false"},
      {"[serve..x]", "line 1: a table header is [name] or [name.name]"},
      {"[]", "line 1: a table header is [name] or [name.name]"},
      {"[serve] x", "line 1: a table header is [name] or [name.name]"},
      {"[serve]\nmetrics-token = \"abcdefghijklmnopqr#stuvwxyz\"",
       "line 2: a quoted value may not hold '#' or '\\' here (it would be read cut short); give "
       "it with its flag or environment variable instead"},
      {"[serve]\nsecret = 'abc\\def'",
       "line 2: a quoted value may not hold '#' or '\\' here (it would be read cut short); give "
       "it with its flag or environment variable instead"},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(ConfigSyntaxError(c.text).value_or("accepted"), c.want) << c.text;
  }
}

TEST(ConfigKeys, AnUnknownTableOrKeyIsNamedWithItsLine) {
  const ConfigTables kTables = {{"serve", {"listen", "data-dir"}},
                                {"accounts.create", {"data-dir", "name"}}};
  struct Case {
    const char* text;
    const char* want;
  };
  const Case kCases[] = {
      {"[serve]\nlisten = \"x\"\n[accounts]\n[accounts.create]\ndata-dir = \"d\"", "accepted"},
      {"", "accepted"},
      {"# comment\n[serve]\n\nlisten = \"x\"\nlisen = \"x\"",
       "line 5: [serve] has no setting \"lisen\" (see callpost serve --help)"},
      {"[accounts.create]\nlisten = \"x\"",
       "line 2: [accounts.create] has no setting \"listen\" (see callpost accounts create --help)"},
      {"[other]\nx = 1",
       "line 1: there is no table [other] (the tables are [accounts.create], [serve])"},
      {"[serv]", "line 1: there is no table [serv] (the tables are [accounts.create], [serve])"},
      {"listen = \"x\"",
       "line 1: \"listen\" is outside a table (the tables are [accounts.create], [serve])"},
      {"[accounts]\nname = \"x\"",
       "line 2: [accounts] has no setting \"name\" (see callpost accounts --help)"},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(ConfigKeyError(c.text, kTables).value_or("accepted"), c.want) << c.text;
  }
}

}  // namespace
}  // namespace app
