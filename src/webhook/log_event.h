// A log line of the webhook module: one JSON object (every log line is one: the logger's pattern
// puts the event in a JSON line as it is), built only when the level is logged.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

#include "core/json_text.h"

namespace webhook {

// Logs {"msg":msg, ...} at `level`; `members` writes the members after "msg" into the JsonText.
template <typename Members>
void LogEvent(spdlog::level::level_enum level, std::string_view msg, Members&& members) {
  if (!spdlog::should_log(level)) return;
  std::string line;
  core::JsonText json(line);
  json.BeginObject().Key("msg").String(msg);
  members(json);
  json.EndObject();
  spdlog::log(level, "{}", line);
}

}  // namespace webhook
