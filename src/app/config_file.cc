#include "app/config_file.h"

#include <cctype>
#include <functional>

namespace app {
namespace {

bool IsBareKeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// After a value: nothing, or a comment.
bool RestIsEmpty(std::string_view rest) {
  rest = Trim(rest);
  return rest.empty() || rest.front() == '#';
}

// A quoted string at the start of `s` and nothing but a comment after it.
bool IsQuoted(std::string_view s) {
  const char quote = s.front();
  for (size_t i = 1; i < s.size(); ++i) {
    if (quote == '"' && s[i] == '\\') {
      ++i;  // an escaped character
      continue;
    }
    if (s[i] == quote) return RestIsEmpty(s.substr(i + 1));
  }
  return false;  // unterminated
}

// An integer or decimal number (optional sign, digits, optional fraction and exponent).
bool IsNumber(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  const size_t digits = i;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) != 0 || s[i] == '_')) ++i;
  if (i == digits) return false;
  if (i < s.size() && s[i] == '.') {
    const size_t fraction = ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) ++i;
    if (i == fraction) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const size_t exponent = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) ++i;
    if (i == exponent) return false;
  }
  return RestIsEmpty(s.substr(i));
}

bool IsValue(std::string_view v) {
  if (v.empty()) return false;
  if (v.front() == '"' || v.front() == '\'') return IsQuoted(v);
  for (std::string_view word : {"true", "false"}) {
    if (v.substr(0, word.size()) == word) return RestIsEmpty(v.substr(word.size()));
  }
  return IsNumber(v);
}

// "[a.b-c]" with an optional comment after it.
bool IsTableHeader(std::string_view line) {
  const size_t close = line.find(']');
  if (close == std::string_view::npos || !RestIsEmpty(line.substr(close + 1))) return false;
  const std::string_view name = Trim(line.substr(1, close - 1));
  if (name.empty() || name.front() == '.' || name.back() == '.') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsBareKeyChar(name[i]) && !(name[i] == '.' && name[i - 1] != '.')) return false;
  }
  return true;
}

// Calls `visit(line)` for each line of `text` that is not blank or a comment, trimmed,
// until it returns an error.
std::optional<std::string> EachLine(
    std::string_view text,
    const std::function<std::optional<std::string>(std::string_view)>& visit) {
  int number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = Trim(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++number;
    if (line.empty() || line.front() == '#') continue;
    if (auto error = visit(line)) return "line " + std::to_string(number) + ": " + *error;
  }
  return std::nullopt;
}

std::string TableNames(const ConfigTables& tables) {
  std::string names;
  for (const auto& [name, keys] : tables) {
    if (name.empty()) continue;
    if (!names.empty()) names += ", ";
    names += "[" + name + "]";
  }
  return names;
}

}  // namespace

std::optional<std::string> ConfigSyntaxError(std::string_view text) {
  return EachLine(text, [](std::string_view line) -> std::optional<std::string> {
    if (line.front() == '[') {
      if (!IsTableHeader(line)) return "a table header is [name] or [name.name]";
      return std::nullopt;
    }
    const size_t eq = line.find('=');
    const std::string_view key = Trim(line.substr(0, eq));
    if (eq == std::string_view::npos || key.empty()) return "expected key = value";
    for (char c : key) {
      if (!IsBareKeyChar(c)) return "a key is letters, digits, '-' and '_'";
    }
    const std::string_view value = Trim(line.substr(eq + 1));
    if (!IsValue(value)) {
      return "a value is a quoted string (\"…\"), a number or true/false";
    }
    // The options' reader cuts a value at '#' and keeps a backslash as it is: such a value
    // would be read as another one (a secret or a password cut short).
    if (value.front() == '"' || value.front() == '\'') {
      const std::string_view inside = value.substr(1, value.find(value.front(), 1) - 1);
      if (inside.find_first_of("#\\") != std::string_view::npos) {
        return "a quoted value may not hold '#' or '\\' here (it would be read cut short); "
               "give it with its flag or environment variable instead";
      }
    }
    return std::nullopt;
  });
}

std::optional<std::string> ConfigKeyError(std::string_view text, const ConfigTables& tables) {
  std::string table;  // keys before the first header belong to no table
  return EachLine(text, [&](std::string_view line) -> std::optional<std::string> {
    if (line.front() == '[') {
      table = std::string(Trim(line.substr(1, line.find(']') - 1)));
      // A table that only holds others ([accounts] of [accounts.create]) may be named too.
      auto next = tables.lower_bound(table);
      const bool known =
          next != tables.end() && (next->first == table || next->first.rfind(table + ".", 0) == 0);
      if (!known) {
        return "there is no table [" + table + "] (the tables are " + TableNames(tables) + ")";
      }
      return std::nullopt;
    }
    const std::string key(Trim(line.substr(0, line.find('='))));
    auto known = tables.find(table);
    if (known != tables.end() && known->second.count(key) != 0) return std::nullopt;
    if (table.empty()) {
      return "\"" + key + "\" is outside a table (the tables are " + TableNames(tables) + ")";
    }
    std::string command = table;
    for (char& c : command) c = c == '.' ? ' ' : c;
    return "[" + table + "] has no setting \"" + key + "\" (see callpost " + command + " --help)";
  });
}

}  // namespace app
