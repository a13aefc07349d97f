// SIP edge hooks: a SIP server (the bundled Kamailio configuration, or any other) asks where
// an INVITE goes and reports answered / ended / failed. GET, so that a proxy's plain HTTP
// client can call them; authenticated with an account API key (header or ?token=).
#include "core/ids.h"
#include "http/api_internal.h"

namespace http {

namespace json = boost::json;

namespace {

// When the event happened: RFC 3339, or Unix seconds with an optional fraction ("1795876796.5",
// what Kamailio's $TV(Sn) gives), so a queued or retried event keeps its own time.
std::optional<core::Millis> ParseEventTime(const std::string& text) {
  if (text.find('T') != std::string::npos) return core::ParseRfc3339(text);
  const size_t dot = text.find('.');
  const std::string whole = text.substr(0, dot);
  std::string fraction = dot == std::string::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 12 ||
      whole.find_first_not_of("0123456789") != std::string::npos ||
      fraction.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  fraction = (fraction + "000").substr(0, 3);
  return std::stoll(whole) * 1000 + std::stoll(fraction);
}

}  // namespace

void Api::SipRoutes(const CtxPtr& ctx) {
  const std::string& which = ctx->segments[1];
  ctx->route = "/sip/" + which;
  if (ctx->request.method != "GET" || (which != "route" && which != "event")) {
    return ctx->Fail(core::NotFound("no route for " + ctx->request.method + " " + ctx->path));
  }
  engine::Params query;
  if (!ctx->Query(query)) return;
  if (!Authenticate(ctx, &query)) return;
  if (which == "route") return SipRoute(ctx, query);
  SipEvent(ctx, query);
}

void Api::SipRoute(const CtxPtr& ctx, const engine::Params& query) {
  const std::string* to = FindParam(query, "to");
  const std::string* from = FindParam(query, "from");
  const std::string* callid = FindParam(query, "callid");
  if (to == nullptr || to->empty()) {
    return ctx->Fail(core::InvalidArgument("to: the dialed number is required", "to"));
  }
  if (callid != nullptr && callid->size() > 255) {
    return ctx->Fail(core::InvalidArgument("callid: at most 255 bytes", "callid"));
  }
  auto number = core::NormalizePhone(*to);
  if (!number) return ctx->Fail(core::NotFound("no tracking number " + *to));
  service::StartRequest req;
  req.number = *number;
  req.route = true;
  if (from != nullptr) {
    // A caller ID that is not a phone number (anonymous, a SIP user name) is kept out.
    if (auto caller = core::NormalizePhone(*from)) req.caller_number = *caller;
  }
  if (callid != nullptr) req.edge_call_id = *callid;
  const config::Id account = ctx->account_id;
  calls_.Start(account, std::move(req), [this, ctx, account](core::Result<service::Started> r) {
    if (!r) return ctx->Fail(r.error());
    std::string refusal;
    if (!r->buyer) {
      refusal = "no buyer can take the call";
    } else if (r->buyer->destination.rfind("sip:", 0) != 0 &&
               r->buyer->destination.rfind("sips:", 0) != 0) {
      refusal = "buyer " + std::to_string(r->buyer->id) + " has no SIP address";
    }
    if (refusal.empty()) {
      return ctx->Json(200,
                       json::object{{"uuid", r->call.uuid},
                                    {"key", r->key},
                                    {"target", r->buyer->destination},
                                    {"timeout_s", 30},
                                    {"headers", json::object{{"X-PH-RetreaverUUID", r->call.uuid},
                                                             {"X-PH-RetreaverKey", r->key}}}});
    }
    // The edge answers the caller 404/480; the call is recorded and closed at once.
    engine::Event ended{engine::EventType::kEnded, 0, std::nullopt, std::nullopt, "no_route", true};
    calls_.ApplyEvent(account, r->call.uuid, ended, [ctx, refusal](core::Result<engine::Call>) {
      ctx->Fail(core::NotFound(refusal));
    });
  });
}

void Api::SipEvent(const CtxPtr& ctx, const engine::Params& query) {
  const std::string* type = FindParam(query, "type");
  const std::string* uuid = FindParam(query, "uuid");
  const std::string* code = FindParam(query, "code");
  const std::string* at = FindParam(query, "at");
  if (uuid == nullptr) return ctx->Fail(core::InvalidArgument("uuid: is required", "uuid"));
  engine::Event event;
  if (type != nullptr && *type == "answered") {
    event.type = engine::EventType::kAnswered;
  } else if (type != nullptr && (*type == "ended" || *type == "failed")) {
    event.type = engine::EventType::kEnded;
    if (*type == "failed") {
      event.failed = true;
      const bool numeric = code != nullptr && !code->empty() && code->size() <= 3 &&
                           code->find_first_not_of("0123456789") == std::string::npos;
      event.hung_up_by = numeric ? "failed:" + *code : "failed";
    }
  } else {
    return ctx->Fail(core::InvalidArgument("type: must be answered, ended or failed", "type"));
  }
  if (at != nullptr) {
    auto t = ParseEventTime(*at);
    if (!t) {
      return ctx->Fail(core::InvalidArgument(
          "at: must be an RFC 3339 time or Unix seconds such as 1795876796.250", "at"));
    }
    event.at = *t;
  }
  calls_.ApplyEvent(ctx->account_id, *uuid, event, [ctx](core::Result<engine::Call> call) {
    if (!call) return ctx->Fail(call.error());
    ctx->Json(200, json::object{{"uuid", call->uuid},
                                {"status", engine::ToString(call->status)},
                                {"answered", call->answered_at.has_value()}});
  });
}

}  // namespace http
