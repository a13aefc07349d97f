// Preview routes: what a payout modifier, a tag filter or a webhook group's requests would give,
// computed by the same code the server runs, so an operator (or the web console) sees exact
// results before saving. They change nothing.
#include <chrono>
#include <utility>

#include "config/codec.h"
#include "config/field_reader.h"
#include "http/api_internal.h"
#include "webhook/request.h"

namespace http {

namespace json = boost::json;

namespace {

// The example call a webhook preview is rendered with when the account has no call yet.
engine::Call ExampleCall(core::Millis now) {
  engine::Call c;
  c.uuid = "00000000-0000-4000-8000-000000000000";
  c.campaign_id = 1;
  c.publisher_id = 1;
  c.buyer_id = 1;
  c.number = "+18005550100";
  c.caller_number = "+15551230000";
  c.status = engine::Status::kCompleted;
  c.started_at = now - 120000;
  c.routed_at = c.started_at;
  c.answered_at = c.started_at + 5000;
  c.ended_at = now;
  c.duration_seconds = 115;
  c.conversion.state = engine::ConversionState::kConverted;
  c.conversion.revenue = core::Money::FromCents(1000);
  c.conversion.payout = core::Money::FromCents(800);
  c.conversion.decided_at = now;
  for (auto [k, v] : {std::pair{"system_campaign_id", "1"},
                      {"system_publisher_id", "1"},
                      {"caller_number", "+15551230000"},
                      {"system_buyer_id", "1"},
                      {"zip", "90210"}}) {
    c.tags.push_back({.key = k, .value = v, .source = engine::TagSource::kSystem, .at = now});
  }
  return c;
}

}  // namespace

void Api::PreviewRoutes(const CtxPtr& ctx) {
  const auto& s = ctx->segments;
  ctx->route = "/api/v1/preview/" + s[3];
  if (ctx->request.method != "POST" ||
      (s[3] != "payout_modifier" && s[3] != "matches" && s[3] != "webhook_requests")) {
    ctx->route = "/api/v1";
    return ctx->Fail(core::NotFound("no route for " + ctx->request.method + " " + ctx->path));
  }
  auto body = ParseJsonObject(ctx->request.body);
  if (!body) return ctx->Fail(body.error());
  config::FieldReader r(*body);

  // The call named by call_uuid, or (for webhook requests) the account's newest call.
  std::string uuid;
  r.String("call_uuid", uuid, false, 64);
  auto find_call = [&](bool newest) -> core::Result<std::optional<engine::Call>> {
    if (!uuid.empty()) {
      auto d = calls_.Get(ctx->account_id, uuid);
      if (!d) {
        core::Error e = d.error();
        if (e.code == core::ErrorCode::kNotFound || !e.field.empty()) {
          e.field = "call_uuid";
          e.message = "call_uuid: " + e.message;
        }
        return e;
      }
      return std::optional<engine::Call>(std::move(d->call));
    }
    if (!newest) return std::optional<engine::Call>();
    store::CallFilter f;
    f.account_id = ctx->account_id;
    f.limit = 1;
    auto list = calls_.List(f);
    if (!list) return std::move(list).error();
    if (list->empty()) return std::optional<engine::Call>();
    return std::optional<engine::Call>(std::move(list->front()));
  };

  if (s[3] == "payout_modifier") {
    std::string modifier, revenue_text;
    r.String("payout_modifier", modifier, false, 256);
    r.String("revenue", revenue_text, true, 32);
    if (auto f = r.Finish(); !f) return ctx->Fail(f.error());
    auto revenue = core::Money::ParseDecimal(revenue_text);
    if (!revenue)
      return ctx->Fail(core::InvalidArgument("revenue: " + revenue.error().message, "revenue"));
    auto m = core::PayoutModifier::Parse(modifier);
    if (!m) {
      return ctx->Fail(core::InvalidArgument(
          "payout_modifier: " + m.error().message.substr(m.error().message.find(':') + 2),
          "payout_modifier"));
    }
    return ctx->Json(200, json::object{{"payout_modifier", modifier},
                                       {"revenue", core::Money::Round(*revenue).ToString()},
                                       {"payout", m->Apply(*revenue).ToString()}});
  }

  if (s[3] == "matches") {
    std::string text;
    r.String("matches", text, false, 4096);
    if (auto f = r.Finish(); !f) return ctx->Fail(f.error());
    auto filter = core::TagFilter::Parse(text);
    if (!filter) return ctx->Fail(core::InvalidArgument(filter.error().message, "matches"));
    auto call = find_call(false);
    if (!call) return ctx->Fail(call.error());
    json::array keys;
    for (auto& k : filter->Keys()) keys.push_back(json::string(k));
    json::object out{{"matches", text},
                     {"canonical", filter->Canonical()},
                     {"keys", std::move(keys)},
                     {"call_uuid", nullptr},
                     {"call_matches", nullptr}};
    if (*call) {
      out["call_uuid"] = (*call)->uuid;
      // The engine's own test, aliases (publisher_id → system_publisher_id, …) included.
      out["call_matches"] = engine::FilterMatches(*filter, **call);
    }
    return ctx->Json(200, out);
  }

  // webhook_requests: the group's requests as they would be sent for a call.
  const json::value* requests = r.Raw("requests");
  if (auto f = r.Finish(); !f) return ctx->Fail(f.error());
  config::SnapshotPtr snap = config_.snapshot();
  config::WebhookGroup base;
  base.name = "preview";
  base.trigger = "completed";
  json::object group;
  if (requests != nullptr) group["requests"] = *requests;
  auto g = config::Decode(
      group, std::move(base),
      config::DecodeContext{.creating = false,
                            .refs = snap.get(),
                            .allow_private_webhooks = config_.options().allow_private_webhooks});
  if (!g) return ctx->Fail(g.error());
  if (g->requests.empty()) {
    return ctx->Fail(core::InvalidArgument("requests: is required", "requests"));
  }
  g->sign = false;  // a preview is never signed: it would need the group's secret
  auto call = find_call(true);
  if (!call) return ctx->Fail(call.error());
  const core::Millis now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const bool example = !call->has_value();
  const engine::Call c = example ? ExampleCall(now) : std::move(**call);
  json::array rendered;
  for (size_t i = 0; i < g->requests.size(); ++i) {
    auto req = webhook::BuildRequest(c, *g, static_cast<int>(i), std::string(webhook::kRedactedKey),
                                     "msg_preview", now, *snap);
    if (!req) return ctx->Fail(req.error());
    json::array headers;
    for (const auto& [name, value] : req->headers) {
      headers.push_back(json::array{json::string(name), json::string(value)});
    }
    rendered.push_back(json::object{{"method", req->method},
                                    {"url", req->redacted_url},
                                    {"headers", std::move(headers)},
                                    {"body", req->body}});
  }
  ctx->Json(200, json::object{{"call_uuid", c.uuid},
                              {"example_call", example},
                              {"requests", std::move(rendered)}});
}

}  // namespace http
