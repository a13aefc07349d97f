// The JSON shapes of calls in the API: the operator's view (everything, with postback log and
// effects), the edge's answers, and the buyer's view (its one call, no key echo).
#pragma once

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>

#include "engine/call.h"
#include "service/call_service.h"

namespace http {

// Room for one answer's JSON: values built in `resource` are carved from a buffer on the stack
// (past it, from blocks that grow) and freed all at once. A call's answer is ~60 values.
struct AnswerBuffer {
  unsigned char bytes[8192];
  boost::json::monotonic_resource resource{bytes, sizeof bytes};
};

// {"state","group_id","revenue","payout","late","deadline_at","decided_at"}
// Each builds its values in `sp` (the default resource when not given).
boost::json::object ConversionJson(const engine::Conversion& c,
                                   const boost::json::storage_ptr& sp = {});
// Tags as {"key":"v1,v2"}.
boost::json::object TagsJson(const engine::Call& call, const boost::json::storage_ptr& sp = {});
// The operator's view; `key` is rendered when not empty.
boost::json::object CallJson(const engine::Call& call, const std::string& key,
                             const boost::json::storage_ptr& sp = {});
boost::json::object CallDetailsJson(const service::CallDetails& d, const std::string& key);
// A webhook delivery with its attempts.
boost::json::object DeliveryJson(const store::Delivery& d);
// What a buyer holding the call key may see.
boost::json::object BuyerCallJson(const engine::Call& call);

}  // namespace http
