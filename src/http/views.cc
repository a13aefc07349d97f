#include "http/views.h"

#include <boost/json.hpp>

namespace http {

namespace json = boost::json;

namespace {

json::value Time(const std::optional<core::Millis>& t) {
  return t ? json::value(core::FormatRfc3339(*t)) : json::value();
}

template <typename T>
json::value Opt(const std::optional<T>& v) {
  return v ? json::value(*v) : json::value();
}

json::value MoneyJson(const std::optional<core::Money>& m) {
  return m ? json::value(m->ToString()) : json::value();
}

}  // namespace

json::object ConversionJson(const engine::Conversion& c) {
  return json::object{{"state", engine::ToString(c.state)},
                      {"group_id", Opt(c.group_id)},
                      {"revenue", MoneyJson(c.revenue)},
                      {"payout", MoneyJson(c.payout)},
                      {"late", c.late},
                      {"deadline_at", Time(c.deadline_at)},
                      {"decided_at", Time(c.decided_at)}};
}

json::object TagsJson(const engine::Call& call) {
  json::object tags;
  for (const auto& t : call.tags) {
    auto& slot = tags[t.key];
    if (slot.is_string()) {
      std::string joined(slot.get_string());
      slot = joined + "," + t.value;
    } else {
      slot = t.value;
    }
  }
  return tags;
}

json::object CallJson(const engine::Call& call, const std::string& key) {
  json::object o{
      {"uuid", call.uuid},
      {"status", engine::ToString(call.status)},
      {"caller_number", call.caller_number},
      {"campaign_id", call.campaign_id},
      {"publisher_id", Opt(call.publisher_id)},
      {"buyer_id", Opt(call.buyer_id)},
      {"number_id", Opt(call.number_id)},
      {"number", call.number},
      {"edge_call_id", call.edge_call_id.empty() ? json::value() : json::value(call.edge_call_id)},
      {"repeat", call.repeat},
      {"started_at", Time(call.started_at)},
      {"routed_at", Time(call.routed_at)},
      {"answered_at", Time(call.answered_at)},
      {"ended_at", Time(call.ended_at)},
      {"duration_seconds", Opt(call.duration_seconds)},
      {"hung_up_by", call.hung_up_by},
      {"tags", TagsJson(call)},
      {"conversion", ConversionJson(call.conversion)}};
  if (!key.empty()) o["key"] = key;
  json::array history;
  for (const auto& t : call.tags) {
    history.push_back(
        json::object{{"key", t.key},
                     {"value", t.value},
                     {"source", engine::ToString(t.source)},
                     {"carried", t.carried},
                     {"publisher_id", t.publisher_id ? json::value(*t.publisher_id) : nullptr},
                     {"at", core::FormatRfc3339(t.at)}});
  }
  o["tag_history"] = std::move(history);
  return o;
}

json::object CallDetailsJson(const service::CallDetails& d, const std::string& key) {
  json::object o = CallJson(d.call, key);
  json::array postbacks;
  for (const auto& p : d.postbacks) {
    json::error_code ec;
    json::value params = json::parse(p.params_json, ec);
    postbacks.push_back(json::object{{"at", core::FormatRfc3339(p.at)},
                                     {"method", p.method},
                                     {"params", ec ? json::value(json::object()) : params},
                                     {"outcome", p.outcome},
                                     {"http_status", p.http_status}});
  }
  o["postbacks"] = std::move(postbacks);
  json::array effects;
  for (const auto& e : d.effects) {
    effects.push_back(json::object{{"trigger", e.trigger}, {"at", core::FormatRfc3339(e.at)}});
  }
  o["effects"] = std::move(effects);
  json::array webhooks;
  for (const auto& w : d.deliveries) webhooks.push_back(DeliveryJson(w));
  o["webhooks"] = std::move(webhooks);
  return o;
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
  return json::object{{"id", d.id},
                      {"call_uuid", d.call_uuid},
                      {"group_id", d.group_id},
                      {"request_index", d.request_index},
                      {"trigger", d.trigger},
                      {"webhook_id", d.webhook_id},
                      {"url", d.url},
                      {"state", store::ToString(d.state)},
                      {"attempt_count", d.attempt_count},
                      {"next_attempt_at", Time(d.next_attempt_at)},
                      {"created_at", core::FormatRfc3339(d.created_at)},
                      {"attempts", std::move(attempts)}};
}

json::object BuyerCallJson(const engine::Call& call) {
  return json::object{{"uuid", call.uuid},
                      {"status", engine::ToString(call.status)},
                      {"caller_number", call.caller_number},
                      {"started_at", Time(call.started_at)},
                      {"answered_at", Time(call.answered_at)},
                      {"ended_at", Time(call.ended_at)},
                      {"duration_seconds", Opt(call.duration_seconds)},
                      {"tags", TagsJson(call)},
                      {"conversion", ConversionJson(call.conversion)}};
}

}  // namespace http
