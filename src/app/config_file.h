// The syntax of a config file, checked before the command line reads it: the command-line
// library takes any line it cannot read as nothing, so a broken file ("[serve" without its
// bracket, a value without its quotes) would start the server on defaults without a word.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace app {

// The subset of TOML a config file uses: blank lines, comments (#), table headers
// ([serve], [accounts.create]) and `key = value` lines whose value is a quoted string
// ("…" with backslash escapes, or '…'), an integer, a decimal number or true/false, each
// line optionally ending in a comment. nullopt when `text` is all that; else the first
// offending line: "line 3: …".
std::optional<std::string> ConfigSyntaxError(std::string_view text);

// The settings a config file may hold: table name ("serve", "accounts.create") to its keys.
using ConfigTables = std::map<std::string, std::set<std::string>, std::less<>>;

// The first line of a syntactically valid `text` that names a table `tables` does not have, or
// a key its table does not have: "line 2: [serve] has no setting \"lisen\" …". nullopt when
// every key is known (the command-line library refuses unknown keys too, but without naming
// the line, and in INI's words).
std::optional<std::string> ConfigKeyError(std::string_view text, const ConfigTables& tables);

}  // namespace app
