#include "http/views.h"

#include <boost/json.hpp>

namespace http {

namespace json = boost::json;

namespace {

json::value Time(const std::optional<core::Millis>& t, const json::storage_ptr& sp = {}) {
  return t ? json::value(core::FormatRfc3339(*t), sp) : json::value(sp);
}

template <typename T>
json::value Opt(const std::optional<T>& v, const json::storage_ptr& sp = {}) {
  return v ? json::value(*v, sp) : json::value(sp);
}

json::value MoneyJson(const std::optional<core::Money>& m, const json::storage_ptr& sp) {
  return m ? json::value(m->ToString(), sp) : json::value(sp);
}

}  // namespace

// Built field by field with emplace, every value made in `sp` (a request's monotonic buffer on
// the hot paths): nothing is copied, and nothing is freed one by one.
json::object ConversionJson(const engine::Conversion& c, const json::storage_ptr& sp) {
  json::object o(sp);
  o.reserve(7);
  o.emplace("state", engine::ToString(c.state));
  o.emplace("group_id", Opt(c.group_id, sp));
  o.emplace("revenue", MoneyJson(c.revenue, sp));
  o.emplace("payout", MoneyJson(c.payout, sp));
  o.emplace("late", c.late);
  o.emplace("deadline_at", Time(c.deadline_at, sp));
  o.emplace("decided_at", Time(c.decided_at, sp));
  return o;
}

json::object TagsJson(const engine::Call& call, const json::storage_ptr& sp) {
  json::object tags(sp);
  for (const auto& t : call.tags) {
    auto& slot = tags[t.key];
    if (slot.is_string()) {
      json::string& joined = slot.get_string();
      joined.append(",");
      joined.append(t.value);
    } else {
      slot = t.value;
    }
  }
  return tags;
}

json::object CallJson(const engine::Call& call, const std::string& key,
                      const json::storage_ptr& sp) {
  json::object o(sp);
  o.reserve(21);
  o.emplace("uuid", call.uuid);
  o.emplace("status", engine::ToString(call.status));
  o.emplace("caller_number", call.caller_number);
  o.emplace("campaign_id", call.campaign_id);
  o.emplace("publisher_id", Opt(call.publisher_id, sp));
  o.emplace("buyer_id", Opt(call.buyer_id, sp));
  o.emplace("number_id", Opt(call.number_id, sp));
  o.emplace("number", call.number);
  o.emplace("edge_call_id",
            call.edge_call_id.empty() ? json::value(sp) : json::value(call.edge_call_id, sp));
  o.emplace("repeat", call.repeat);
  o.emplace("started_at", Time(call.started_at, sp));
  o.emplace("routed_at", Time(call.routed_at, sp));
  o.emplace("answered_at", Time(call.answered_at, sp));
  o.emplace("ended_at", Time(call.ended_at, sp));
  o.emplace("duration_seconds", Opt(call.duration_seconds, sp));
  o.emplace("hung_up_by", call.hung_up_by);
  o.emplace("tags", TagsJson(call, sp));
  o.emplace("conversion", ConversionJson(call.conversion, sp));
  if (!key.empty()) o.emplace("key", key);
  json::array history(sp);
  history.reserve(call.tags.size());
  for (const auto& t : call.tags) {
    json::object h(sp);
    h.reserve(6);
    h.emplace("key", t.key);
    h.emplace("value", t.value);
    h.emplace("source", engine::ToString(t.source));
    h.emplace("carried", t.carried);
    h.emplace("publisher_id", Opt(t.publisher_id, sp));
    h.emplace("at", core::FormatRfc3339(t.at));
    history.emplace_back(std::move(h));
  }
  o.emplace("tag_history", std::move(history));
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
