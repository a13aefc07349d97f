// The JSON shapes of calls in the API: the operator's view (everything, with postback log and
// effects), the edge's answers, and the buyer's view (its one call, no key echo). Calls are
// written as JSON text (they are in the answer of every call request); a webhook delivery is
// built as an object.
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "core/json_text.h"
#include "engine/call.h"
#include "service/call_service.h"

namespace http {

// The operator's view of a call: its members, for an answer that adds its own before closing
// the object; `key` is written when not empty.
void WriteCallMembers(core::JsonText& j, const engine::Call& call, const std::string& key);
// The operator's view as one object.
void WriteCall(core::JsonText& j, const engine::Call& call, const std::string& key);
std::string CallJson(const engine::Call& call, const std::string& key);
// The view with its postback log, effects and webhook deliveries.
std::string CallDetailsJson(const service::CallDetails& d, const std::string& key);
// What a buyer holding the call key may see.
std::string BuyerCallJson(const engine::Call& call);
// Tag values as {"key":"v1,v2"}: one member a key, in the order the keys first appear.
void WriteTagValues(core::JsonText& j, const engine::Params& tags);
// A webhook delivery with its attempts.
boost::json::object DeliveryJson(const store::Delivery& d);
void WriteDelivery(core::JsonText& j, const store::Delivery& d);

}  // namespace http
