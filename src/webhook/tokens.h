// The values of webhook replacement tokens ("[call_uuid]", "[payout]", "[any_tag_key]") for one
// call: what core::TokenTemplate::Render looks up when a request is built.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/snapshot.h"
#include "engine/call.h"

namespace webhook {

// The raw (not yet encoded) value of `token` for `call`. Built-in tokens come first:
//   call_uuid, call_key, caller_number, caller_id (= caller_number), nanp_caller_number
//   ("5551230000" for a +1 number, else the number), campaign_id, publisher_id, buyer_id,
//   system_buyer_id (= buyer_id), dialed_number, call_duration (seconds, "0" until known),
//   revenue and payout ("8.00", empty until decided), converted ("true"/"false"),
//   started_at, answered_at, ended_at (RFC 3339, empty when absent), conversion_state.
// Any other token is a tag key: its values in the order added, joined with ",". A token that is
// neither gives nullopt (rendered as empty). An absent optional id renders as "".
// `call_key` is the call's derived key (the caller passes "REDACTED" to render a loggable
// form). `snap` is the configuration the call is rendered against (reserved for tokens naming
// configuration objects; none read it yet). Pure; thread-safe.
std::optional<std::string> TokenValue(const engine::Call& call, std::string_view token,
                                      const std::string& call_key, const config::Snapshot& snap);

}  // namespace webhook
