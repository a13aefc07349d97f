// The JSON shapes of calls in the API: the operator's view (everything, with postback log and
// effects), the edge's answers, and the buyer's view (its one call, no key echo).
#pragma once

#include <boost/json/object.hpp>

#include "engine/call.h"
#include "service/call_service.h"

namespace http {

// {"state","group_id","revenue","payout","late","deadline_at","decided_at"}
boost::json::object ConversionJson(const engine::Conversion& c);
// Tags as {"key":"v1,v2"}.
boost::json::object TagsJson(const engine::Call& call);
// The operator's view; `key` is rendered when not empty.
boost::json::object CallJson(const engine::Call& call, const std::string& key);
boost::json::object CallDetailsJson(const service::CallDetails& d, const std::string& key);
// A webhook delivery with its attempts.
boost::json::object DeliveryJson(const store::Delivery& d);
// What a buyer holding the call key may see.
boost::json::object BuyerCallJson(const engine::Call& call);

}  // namespace http
