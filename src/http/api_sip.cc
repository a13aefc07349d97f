// SIP edge hooks: a SIP server (the bundled Kamailio configuration, or any other) asks where
// an INVITE goes and reports answered / ended / failed. GET, so that a proxy's plain HTTP
// client can call them; authenticated with an account API key (header or ?token=).
#include "http/api_internal.h"
#include "http/sip_params.h"

namespace http {

namespace json = boost::json;

void Api::SipRoutes(const CtxPtr& ctx) {
  const std::string& which = ctx->segments[1];
  if (ctx->request.method != "GET" || (which != "route" && which != "event")) {
    // Named by a constant: the path is anyone's text (a metric label per path would grow
    // without bound, and a key put there must not be logged).
    ctx->route = "unmatched";
    return ctx->Fail(core::NotFound("no route for " + ctx->request.method + " " + ctx->path));
  }
  ctx->route = which == "route" ? "/sip/route" : "/sip/event";
  engine::Params query;
  if (!ctx->Query(query)) return;
  if (!Authenticate(ctx, &query)) return;
  if (which == "route") return SipRoute(ctx, query);
  SipEvent(ctx, query);
}

void Api::SipRoute(const CtxPtr& ctx, const engine::Params& query) {
  auto q = ReadSipRoute(query);
  if (!q) return ctx->Fail(q.error());
  service::StartRequest req;
  req.number = std::move(q->number);
  req.route = true;
  req.sip_only = true;  // a buyer reachable only by phone cannot take a SIP call
  req.caller_number = std::move(q->caller_number);
  req.edge_call_id = std::move(q->edge_call_id);
  const config::Id account = ctx->account_id;
  calls_.Start(
      account, std::move(req),
      ctx->OnConnection<core::Result<service::Started>>([this, ctx, account](auto r) {
        if (!r) return ctx->Fail(r.error());
        std::string refusal;
        if (!r->buyer) {
          refusal = "no buyer can take the call";
        } else if (!r->buyer->HasSipAddress()) {  // a call started through the API
          refusal = "buyer " + std::to_string(r->buyer->id) + " has no SIP address";
        }
        if (refusal.empty()) {
          const std::string key = calls_.KeyOf(r->call);
          return ctx->Json(
              200, json::object{{"uuid", r->call.uuid},
                                {"key", key},
                                {"target", r->buyer->destination},
                                {"timeout_s", 30},
                                {"headers", json::object{{"X-PH-RetreaverUUID", r->call.uuid},
                                                         {"X-PH-RetreaverKey", key}}}});
        }
        // A call this lookup did not start (the same Call-ID given to a call started through
        // the API, or a retried lookup of one already closed) is left as it is.
        if (r->existing) return ctx->Fail(core::NotFound(refusal));
        // The edge answers the caller 404/480; the call is recorded and closed at once.
        engine::Event ended{
            engine::EventType::kEnded, 0, std::nullopt, std::nullopt, "no_route", true};
        calls_.ApplyEvent(account, r->call.uuid, ended,
                          ctx->OnConnection<core::Result<engine::Call>>(
                              [ctx, refusal](auto) { ctx->Fail(core::NotFound(refusal)); }));
      }));
}

void Api::SipEvent(const CtxPtr& ctx, const engine::Params& query) {
  auto q = ReadSipEvent(query);
  if (!q) return ctx->Fail(q.error());
  calls_.ApplyEvent(ctx->account_id, q->uuid, q->event,
                    ctx->OnConnection<core::Result<engine::Call>>([ctx](auto call) {
                      if (!call) return ctx->Fail(call.error());
                      ctx->Json(200, json::object{{"uuid", call->uuid},
                                                  {"status", engine::ToString(call->status)},
                                                  {"answered", call->answered_at.has_value()}});
                    }));
}

}  // namespace http
