#include "http/views.h"

#include <boost/json.hpp>

namespace http {

namespace json = boost::json;

namespace {

void Time(core::JsonText& j, core::Millis t) { j.String(core::FormatRfc3339(t)); }

void Time(core::JsonText& j, const std::optional<core::Millis>& t) {
  if (t) {
    Time(j, *t);
  } else {
    j.Null();
  }
}

void Money(core::JsonText& j, const std::optional<core::Money>& m) {
  if (m) {
    j.String(m->ToString());
  } else {
    j.Null();
  }
}

// {"state","group_id","revenue","payout","late","deadline_at","decided_at"}
void WriteConversion(core::JsonText& j, const engine::Conversion& c) {
  j.BeginObject();
  j.Key("state").String(engine::ToString(c.state));
  j.Key("group_id").OptionalInt(c.group_id);
  Money(j.Key("revenue"), c.revenue);
  Money(j.Key("payout"), c.payout);
  j.Key("late").Bool(c.late);
  Time(j.Key("deadline_at"), c.deadline_at);
  Time(j.Key("decided_at"), c.decided_at);
  j.EndObject();
}

// {"key":"v1,v2"}: one member a key, in the order the keys first appear, its values joined
// by commas.
template <typename Item, typename KeyOf, typename ValueOf>
void WriteJoinedByKey(core::JsonText& j, const std::vector<Item>& items, KeyOf key_of,
                      ValueOf value_of) {
  j.BeginObject();
  std::string joined;
  core::WriteGroupedByKey(j, items, key_of, [&](core::JsonText& member, auto each) {
    joined.clear();
    each([&](const Item& item) { joined.append(value_of(item)).append(","); });
    joined.pop_back();  // a key has at least one item
    member.String(joined);
  });
  j.EndObject();
}

void WriteTags(core::JsonText& j, const engine::Call& call) {
  WriteJoinedByKey(
      j, call.tags, [](const engine::Tag& t) -> const std::string& { return t.key; },
      [](const engine::Tag& t) -> const std::string& { return t.value; });
}

}  // namespace

void WriteTagValues(core::JsonText& j, const engine::Params& tags) {
  using Param = engine::Params::value_type;
  WriteJoinedByKey(
      j, tags, [](const Param& p) -> const std::string& { return p.first; },
      [](const Param& p) -> const std::string& { return p.second; });
}

void WriteCallMembers(core::JsonText& j, const engine::Call& call, const std::string& key) {
  j.Key("uuid").String(call.uuid);
  j.Key("status").String(engine::ToString(call.status));
  j.Key("caller_number").String(call.caller_number);
  j.Key("campaign_id").Int(call.campaign_id);
  j.Key("publisher_id").OptionalInt(call.publisher_id);
  j.Key("buyer_id").OptionalInt(call.buyer_id);
  j.Key("number_id").OptionalInt(call.number_id);
  j.Key("number").String(call.number);
  j.Key("edge_call_id");
  if (call.edge_call_id.empty()) {
    j.Null();
  } else {
    j.String(call.edge_call_id);
  }
  j.Key("repeat").Bool(call.repeat);
  Time(j.Key("started_at"), call.started_at);
  Time(j.Key("routed_at"), call.routed_at);
  Time(j.Key("answered_at"), call.answered_at);
  Time(j.Key("ended_at"), call.ended_at);
  j.Key("duration_seconds").OptionalInt(call.duration_seconds);
  j.Key("hung_up_by").String(call.hung_up_by);
  WriteTags(j.Key("tags"), call);
  WriteConversion(j.Key("conversion"), call.conversion);
  if (!key.empty()) j.Key("key").String(key);
  j.Key("tag_history").BeginArray();
  for (const auto& t : call.tags) {
    j.BeginObject();
    j.Key("key").String(t.key);
    j.Key("value").String(t.value);
    j.Key("source").String(engine::ToString(t.source));
    j.Key("carried").Bool(t.carried);
    j.Key("publisher_id").OptionalInt(t.publisher_id);
    Time(j.Key("at"), t.at);
    j.EndObject();
  }
  j.EndArray();
}

void WriteCall(core::JsonText& j, const engine::Call& call, const std::string& key) {
  j.BeginObject();
  WriteCallMembers(j, call, key);
  j.EndObject();
}

std::string CallJson(const engine::Call& call, const std::string& key) {
  std::string out;
  core::JsonText j(out);
  WriteCall(j, call, key);
  return out;
}

std::string CallDetailsJson(const service::CallDetails& d, const std::string& key) {
  std::string out;
  core::JsonText j(out);
  j.BeginObject();
  WriteCallMembers(j, d.call, key);
  j.Key("postbacks").BeginArray();
  for (const auto& p : d.postbacks) {
    json::error_code ec;
    json::value params = json::parse(p.params_json, ec);
    j.BeginObject();
    Time(j.Key("at"), p.at);
    j.Key("method").String(p.method);
    j.Key("params").Raw(ec ? "{}" : json::serialize(params));
    j.Key("outcome").String(p.outcome);
    j.Key("http_status").Int(p.http_status);
    j.EndObject();
  }
  j.EndArray();
  j.Key("postbacks_total").Int(d.postbacks_total);
  j.Key("effects").BeginArray();
  for (const auto& e : d.effects) {
    j.BeginObject().Key("trigger").String(e.trigger);
    Time(j.Key("at"), e.at);
    j.EndObject();
  }
  j.EndArray();
  j.Key("webhooks").BeginArray();
  for (const auto& w : d.deliveries) WriteDelivery(j, w);
  j.EndArray();
  j.EndObject();
  return out;
}

json::object DeliveryJson(const store::Delivery& d) {
  json::array attempts;
  for (const auto& a : d.attempts) {
    attempts.push_back(
        json::object{{"at", core::FormatRfc3339(a.at)},
                     {"http_status", a.http_status ? json::value(*a.http_status) : nullptr},
                     {"latency_ms", a.latency_ms},
                     {"error", a.error.empty() ? json::value() : json::value(a.error)},
                     {"response_excerpt", a.response_excerpt}});
  }
  return json::object{
      {"id", d.id},
      {"call_uuid", d.call_uuid},
      {"group_id", d.group_id},
      {"request_index", d.request_index},
      {"trigger", d.trigger},
      {"webhook_id", d.webhook_id},
      {"url", d.url},
      {"state", store::ToString(d.state)},
      {"attempt_count", d.attempt_count},
      {"next_attempt_at",
       d.next_attempt_at ? json::value(core::FormatRfc3339(*d.next_attempt_at)) : json::value()},
      {"created_at", core::FormatRfc3339(d.created_at)},
      {"attempts", std::move(attempts)}};
}

void WriteDelivery(core::JsonText& j, const store::Delivery& d) {
  j.Raw(json::serialize(DeliveryJson(d)));
}

std::string BuyerCallJson(const engine::Call& call) {
  std::string out;
  core::JsonText j(out);
  j.BeginObject();
  j.Key("uuid").String(call.uuid);
  j.Key("status").String(engine::ToString(call.status));
  j.Key("caller_number").String(call.caller_number);
  Time(j.Key("started_at"), call.started_at);
  Time(j.Key("answered_at"), call.answered_at);
  Time(j.Key("ended_at"), call.ended_at);
  j.Key("duration_seconds").OptionalInt(call.duration_seconds);
  WriteTags(j.Key("tags"), call);
  WriteConversion(j.Key("conversion"), call.conversion);
  j.EndObject();
  return out;
}

}  // namespace http
