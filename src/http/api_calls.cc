// Call routes: the telephony edge (create, events), the operator's reads, and buyer
// postbacks authorised by a call key.
#include "config/field_reader.h"
#include "core/ids.h"
#include "http/api_internal.h"
#include "http/views.h"

namespace http {

namespace json = boost::json;

namespace {

core::Error NoRoute(const std::string& method, const std::string& path) {
  return core::NotFound("no route for " + method + " " + path);
}

// Reads an optional RFC 3339 "at" field.
void ReadAt(config::FieldReader& r, std::optional<core::Millis>& out) {
  std::string at;
  r.String("at", at, false, 64);
  if (!r.ok() || at.empty()) return;
  auto t = core::ParseRfc3339(at);
  if (!t) return r.Fail("at", "must be an RFC 3339 time such as 2026-11-28T14:39:56.123Z");
  out = *t;
}

core::Result<engine::Params> ReadEdgeTags(const json::value* v) {
  engine::Params tags;
  if (v == nullptr || v->is_null()) return tags;
  if (!v->is_object()) return core::InvalidArgument("tags: must be an object", "tags");
  if (v->get_object().size() > engine::kMaxTagsPerRequest) {
    return core::InvalidArgument("tags: at most 100 tags", "tags");
  }
  for (const auto& kv : v->get_object()) {
    if (!kv.value().is_string()) {
      return core::InvalidArgument("tags." + std::string(kv.key()) + ": must be a string",
                                   "tags." + std::string(kv.key()));
    }
    std::string value(kv.value().get_string());
    if (auto ok = engine::ValidateTag(kv.key(), value); !ok) {
      core::Error e = std::move(ok).error();
      e.field = "tags." + std::string(kv.key());
      e.message = "tags: " + e.message;
      return e;
    }
    tags.emplace_back(kv.key(), std::move(value));
  }
  return tags;
}

// {"data":[…],"next_cursor":…} from rows fetched with limit + 1: the extra row only says that
// there is a next page, which starts after the last row shown. `write(j, row)` writes a row.
template <typename Row, typename Write>
std::string PageJson(std::vector<Row>& rows, int limit, Write write) {
  std::optional<std::string> next;
  if (static_cast<int>(rows.size()) > limit) {
    rows.pop_back();
    next = std::to_string(rows.back().id);
  }
  std::string out;
  core::JsonText j(out);
  j.BeginObject().Key("data").BeginArray();
  for (const auto& row : rows) write(j, row);
  j.EndArray().Key("next_cursor");
  if (next) {
    j.String(*next);
  } else {
    j.Null();
  }
  j.EndObject();
  return out;
}

// Postback answers: JSON, or "OK …" / "FAILED …" for clients that want text.
bool WantsText(const Request& r) {
  const std::string* accept = r.FindHeader("Accept");
  return accept != nullptr && accept->find("text/plain") != std::string::npos &&
         accept->find("application/json") == std::string::npos;
}

const char* ErrorCodeFor(int status) {
  switch (status) {
    case 400:
      return "invalid_argument";
    case 401:
      return "unauthenticated";
    case 403:
      return "permission_denied";
    case 404:
      return "not_found";
    case 410:
      return "gone";
    case 422:
      return "unprocessable";
    default:
      return "internal";
  }
}

}  // namespace

void Api::CallRoutes(const CtxPtr& ctx) {
  const auto& s = ctx->segments;
  const std::string& m = ctx->request.method;
  if (s.size() == 3) {
    ctx->route = "/api/v1/calls";
    if (m == "POST") return CreateCall(ctx);
    if (m == "GET") return OffIoThread(ctx, &Api::ListCalls);
  } else if (s.size() == 4 && m == "GET") {
    ctx->route = "/api/v1/calls/{uuid}";
    return OffIoThread(ctx, &Api::GetCall);
  } else if (s.size() == 5 && s[4] == "events" && m == "POST") {
    ctx->route = "/api/v1/calls/{uuid}/events";
    return CallEvent(ctx);
  }
  ctx->Fail(NoRoute(m, ctx->path));
}

void Api::CreateCall(const CtxPtr& ctx) {
  auto body = ParseJsonObject(ctx->request.body);
  if (!body) return ctx->Fail(body.error());
  config::FieldReader r(*body);
  service::StartRequest req;
  std::string number, caller;
  r.String("number", number, false, 32);
  std::optional<int64_t> campaign, publisher;
  r.OptionalInt("campaign_id", campaign, 1, INT64_MAX);
  r.OptionalInt("publisher_id", publisher, 1, INT64_MAX);
  r.String("caller_number", caller, false, 32);
  r.Bool("route", req.route);
  r.String("edge_call_id", req.edge_call_id, false, 255);
  ReadAt(r, req.at);
  auto tags = ReadEdgeTags(r.Raw("tags"));
  if (auto f = r.Finish(); !f) return ctx->Fail(f.error());
  if (!tags) return ctx->Fail(tags.error());
  if (!number.empty()) {
    auto e164 = core::NormalizePhone(number);
    if (!e164) {
      return ctx->Fail(
          core::InvalidArgument("number: must be a phone number in E.164 form", "number"));
    }
    req.number = *e164;
  } else if (!campaign) {
    return ctx->Fail(core::InvalidArgument("number or campaign_id is required", "number"));
  }
  if (!caller.empty() && caller != "anonymous") {
    auto e164 = core::NormalizePhone(caller);
    if (!e164) {
      return ctx->Fail(core::InvalidArgument(
          "caller_number: must be a phone number in E.164 form (or \"anonymous\")",
          "caller_number"));
    }
    req.caller_number = *e164;
  }
  if (req.edge_call_id.empty()) {
    if (const std::string* k = ctx->request.FindHeader("Idempotency-Key")) {
      if (k->size() > 255) {
        return ctx->Fail(core::InvalidArgument("Idempotency-Key: at most 255 bytes"));
      }
      if (k->find('\0') != std::string::npos) {
        return ctx->Fail(core::InvalidArgument("Idempotency-Key: must not contain a NUL byte"));
      }
      req.edge_call_id = *k;
    }
  }
  req.campaign_id = campaign;
  req.publisher_id = publisher;
  req.tags = std::move(*tags);
  calls_.Start(ctx->account_id, std::move(req),
               ctx->OnConnection<core::Result<service::Started>>([this, ctx](auto r) {
                 if (!r) return ctx->Fail(r.error());
                 std::string body;
                 core::JsonText j(body);
                 j.BeginObject();
                 WriteCallMembers(j, r->call, calls_.KeyOf(r->call));
                 j.Key("route");
                 if (r->buyer) {
                   j.BeginObject().Key("buyer_id").Int(r->buyer->id);
                   j.Key("destination").String(r->buyer->destination).EndObject();
                 } else {
                   j.Null();
                 }
                 j.EndObject();
                 ctx->JsonBody(r->existing ? 200 : 201, std::move(body));
               }));
}

void Api::CallEvent(const CtxPtr& ctx) {
  auto body = ParseJsonObject(ctx->request.body);
  if (!body) return ctx->Fail(body.error());
  config::FieldReader r(*body);
  std::string type;
  r.String("type", type, true, 32);
  engine::Event event;
  std::optional<core::Millis> at;
  ReadAt(r, at);
  event.at = at.value_or(0);
  std::optional<int64_t> buyer, duration;
  if (type == "routed") {
    event.type = engine::EventType::kRouted;
    r.OptionalInt("buyer_id", buyer, 1, INT64_MAX);
    if (r.ok() && !buyer) r.Fail("buyer_id", "is required for a routed event");
  } else if (type == "answered") {
    event.type = engine::EventType::kAnswered;
  } else if (type == "ended") {
    event.type = engine::EventType::kEnded;
    r.OptionalInt("duration_seconds", duration, 0, 7 * 86400);
    r.String("hung_up_by", event.hung_up_by, false, 32);
  } else if (r.ok()) {
    r.Fail("type", "must be one of routed, answered, ended");
  }
  if (auto f = r.Finish(); !f) return ctx->Fail(f.error());
  event.buyer_id = buyer;
  event.duration_seconds = duration;
  calls_.ApplyEvent(ctx->account_id, ctx->segments[3], event,
                    ctx->OnConnection<core::Result<engine::Call>>([this, ctx](auto call) {
                      if (!call) return ctx->Fail(call.error());
                      ctx->JsonBody(200, CallJson(*call, calls_.KeyOf(*call)));
                    }));
}

void Api::ListCalls(const CtxPtr& ctx) {
  engine::Params query;
  if (!ctx->Query(query)) return;
  auto page = ReadPage(query, {"campaign_id", "status", "converted", "since", "until"});
  if (!page) return ctx->Fail(page.error());
  store::CallFilter f;
  f.account_id = ctx->account_id;
  f.limit = page->limit + 1;
  if (page->after_id) f.before_id = page->after_id;
  for (const auto& [k, v] : query) {
    if (k == "limit" || k == "cursor") continue;
    if (k == "campaign_id") {
      f.campaign_id = ParseId(v);
      if (!f.campaign_id) return ctx->Fail(core::InvalidArgument("campaign_id: must be an id", k));
    } else if (k == "status") {
      f.status = engine::StatusFromString(v);
      if (!f.status) {
        return ctx->Fail(core::InvalidArgument(
            "status: must be one of started, routed, answered, ended, completed", k));
      }
    } else if (k == "converted") {
      if (v != "true" && v != "false") {
        return ctx->Fail(core::InvalidArgument("converted: must be true or false", k));
      }
      f.converted = v == "true";
    } else {  // since, until
      auto t = core::ParseRfc3339(v);
      if (!t) return ctx->Fail(core::InvalidArgument(k + ": must be an RFC 3339 time", k));
      (k == "since" ? f.since : f.until) = *t;
    }
  }
  auto calls = calls_.List(f);
  if (!calls) return ctx->Fail(calls.error());
  ctx->JsonBody(200,
                PageJson(*calls, page->limit, [this](core::JsonText& j, const engine::Call& c) {
                  WriteCall(j, c, calls_.KeyOf(c));
                }));
}

void Api::GetCall(const CtxPtr& ctx) {
  auto d = calls_.Get(ctx->account_id, ctx->segments[3]);
  if (!d) return ctx->Fail(d.error());
  ctx->JsonBody(200, CallDetailsJson(*d, calls_.KeyOf(d->call)));
}

namespace {

// Answers for buyer postbacks and publisher data writing: JSON (text already written), or
// "OK …" / "FAILED …" text.
Response TextOrJson(int status, bool text, const std::string& sentence, std::string json) {
  if (text) {
    Response r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = (status == 200 ? "OK " : "FAILED ") + sentence;
    return r;
  }
  return JsonTextResponse(status, std::move(json));
}

std::string RefusalJson(int status, const std::string& reason) {
  std::string out;
  core::JsonText j(out);
  j.BeginObject().Key("error").BeginObject();
  j.Key("code").String(ErrorCodeFor(status)).Key("message").String(reason);
  j.EndObject().EndObject();
  return out;
}

}  // namespace

void Api::DataWriting(const CtxPtr& ctx) {
  ctx->route = "/data_writing/{key}";
  const std::string& m = ctx->request.method;
  const bool text = WantsText(ctx->request);
  if (m != "GET" && m != "POST") {
    return ctx->Reply(TextOrJson(404, text, "data writing uses GET or POST",
                                 RefusalJson(404, "data writing uses GET or POST")));
  }
  service::DataWritingRequest req;
  req.key = ctx->segments[1];
  // Publisher postback keys are account credentials, limited as API keys are (Authenticate):
  // the key is looked up first, and only a key that exists spends a token of its bucket (the
  // API-key limit). A key that does not exist is answered 401 every time, never 429 (which
  // would say the key exists), and keeps no bucket.
  req.lookup = config_.FindPublisherKey(req.key);
  if (req.lookup->key != nullptr &&
      !Admit(ctx, api_key_limiter_, "publisher:" + req.key, "publisher postback key", text)) {
    return;
  }
  auto params = RequestParams(ctx->request, ctx->query);
  if (!params) {
    req.malformed = params.error().message;
  } else {
    for (auto& [k, v] : *params) {
      if (k == "caller_number") {
        if (!req.caller_number) req.caller_number = std::move(v);
      } else if (k == "call_uuid") {
        if (!req.call_uuid) req.call_uuid = std::move(v);
      } else if (!v.empty()) {
        req.tags.emplace_back(std::move(k), std::move(v));
      }
    }
  }
  calls_.DataWriting(
      std::move(req),
      ctx->OnConnection<core::Result<service::DataWritingAnswer>>([ctx, text](auto r) {
        if (!r) return ctx->Fail(r.error());
        if (r->http_status != 200) {
          return ctx->Reply(TextOrJson(r->http_status, text, r->message,
                                       RefusalJson(r->http_status, r->message)));
        }
        std::string body;
        core::JsonText j(body);
        j.BeginObject();
        WriteTagValues(j.Key("tag_values"), r->tag_values);
        if (!r->call_uuid.empty()) j.Key("call_uuid").String(r->call_uuid);
        if (!r->caller_number.empty()) j.Key("caller_number").String(r->caller_number);
        j.Key("status").String(r->message);
        j.EndObject();
        ctx->Reply(TextOrJson(200, text, r->message, std::move(body)));
      }));
}

void Api::Postback(const CtxPtr& ctx) {
  const std::string& m = ctx->request.method;
  ctx->route = "/calls/{uuid}/" + ctx->segments[2];
  const bool text = WantsText(ctx->request);
  auto refuse = [ctx, text](int status, const std::string& reason) {
    ctx->Reply(TextOrJson(status, text, reason, RefusalJson(status, reason)));
  };
  if (m != "GET" && m != "POST" && m != "HEAD") {
    return refuse(404, "postbacks use GET, POST or HEAD");
  }
  service::PostbackRequest req;
  req.uuid = ctx->segments[1];
  req.method = m;
  auto params = RequestParams(ctx->request, ctx->query);
  if (!params) {
    // Refused all the same, but logged with the call when the call exists, with what the query
    // string says when only the body is malformed.
    req.malformed = params.error().message;
    params = ParseForm(ctx->query);
  }
  if (params) {
    for (auto& [k, v] : *params) {
      if (k == "key") {
        if (!req.key) req.key = std::move(v);
      } else {
        req.params.emplace_back(std::move(k), std::move(v));
      }
    }
  }
  if (!req.key) {
    if (const std::string* h = ctx->request.FindHeader("X-Call-Key")) req.key = *h;
  }
  // Only the call's own key spends the call's tokens: a wrong key is refused (401) whatever
  // the rate, and cannot use up the buyer's. The tokens are the call's whatever the case of
  // the UUID in the path.
  if (const auto uuid = core::NormalizeUuid(req.uuid); uuid && req.key) {
    req.key_matches = calls_.KeyMatches(*uuid, *req.key);
    if (*req.key_matches && !Admit(ctx, call_key_limiter_, *uuid, "call key", text)) return;
  }
  calls_.Postback(
      std::move(req),
      ctx->OnConnection<core::Result<service::PostbackAnswer>>([ctx, text, refuse](auto r) {
        if (!r) return ctx->Fail(r.error());
        if (r->http_status != 200) return refuse(r->http_status, r->message);
        const auto& c = r->conversion;
        std::string body;
        core::JsonText j(body);
        j.BeginObject();
        j.Key("call_uuid").String(r->call_uuid);
        WriteTagValues(j.Key("tag_values"), r->tag_values);
        j.Key("conversion").BeginObject();
        j.Key("state").String(engine::ToString(c.state));
        j.Key("revenue");
        c.revenue ? j.String(c.revenue->ToString()) : j.Null();
        j.Key("payout");
        c.payout ? j.String(c.payout->ToString()) : j.Null();
        j.Key("late").Bool(c.late);
        j.EndObject();
        j.Key("status").String(r->message);
        j.EndObject();
        ctx->Reply(TextOrJson(200, text, r->message, std::move(body)));
      }));
}

void Api::BuyerView(const CtxPtr& ctx) {
  ctx->route = "/calls/{uuid}";
  if (ctx->request.method != "GET" && ctx->request.method != "HEAD") {
    return ctx->Fail(NoRoute(ctx->request.method, ctx->path));
  }
  engine::Params query;
  if (!ctx->Query(query)) return;
  std::string key;
  if (const auto* k = FindParam(query, "key")) {
    key = *k;
  } else if (const std::string* h = ctx->request.FindHeader("X-Call-Key")) {
    key = *h;
  }
  if (const auto uuid = core::NormalizeUuid(ctx->segments[1]);
      uuid && calls_.KeyMatches(*uuid, key) && !Admit(ctx, call_key_limiter_, *uuid, "call key")) {
    return;
  }
  auto call = calls_.GetWithKey(ctx->segments[1], key);
  if (!call) return ctx->Fail(call.error());
  ctx->JsonBody(200, BuyerCallJson(*call));
}

void Api::DeliveryRoutes(const CtxPtr& ctx) {
  const auto& s = ctx->segments;
  const std::string& m = ctx->request.method;
  if (s.size() == 3 && m == "GET") {
    ctx->route = "/api/v1/webhook_deliveries";
    engine::Params query;
    if (!ctx->Query(query)) return;
    auto page = ReadPage(query, {"call_uuid", "state"});
    if (!page) return ctx->Fail(page.error());
    store::DeliveryFilter f;
    f.account_id = ctx->account_id;
    f.limit = page->limit + 1;
    if (page->after_id) f.before_id = page->after_id;
    for (const auto& [k, v] : query) {
      if (k == "limit" || k == "cursor") continue;
      if (k == "call_uuid") {
        auto call = calls_.Get(ctx->account_id, v);
        if (!call) {
          if (call.error().code == core::ErrorCode::kInvalidArgument) {
            // A malformed UUID: the service names its own input ("uuid"), here the filter.
            return ctx->Fail(core::InvalidArgument("call_uuid: " + call.error().message, k));
          }
          // An unknown (or another account's) call has no deliveries here.
          if (call.error().code != core::ErrorCode::kNotFound) return ctx->Fail(call.error());
          return ctx->Json(200, json::object{{"data", json::array()}, {"next_cursor", nullptr}});
        }
        f.call_id = call->call.id;
      } else {  // state
        f.state = store::DeliveryStateFromString(v);
        if (!f.state) {
          return ctx->Fail(core::InvalidArgument(
              "state: must be one of pending, retrying, delivered, failed", k));
        }
      }
    }
    auto list = calls_.ListDeliveries(f);
    if (!list) return ctx->Fail(list.error());
    return ctx->JsonBody(200, PageJson(*list, page->limit, WriteDelivery));
  }
  if (s.size() == 5 && s[4] == "resend" && m == "POST") {
    ctx->route = "/api/v1/webhook_deliveries/{id}/resend";
    auto id = ParseId(s[3]);
    if (!id) return ctx->Fail(core::NotFound("no delivery " + s[3]));
    auto d = calls_.ResendDelivery(ctx->account_id, *id);
    return d ? ctx->Json(202, DeliveryJson(*d)) : ctx->Fail(d.error());
  }
  if (s.size() == 4 && m == "GET") {
    ctx->route = "/api/v1/webhook_deliveries/{id}";
    auto id = ParseId(s[3]);
    if (!id) return ctx->Fail(core::NotFound("no delivery " + s[3]));
    auto d = calls_.GetDelivery(ctx->account_id, *id);
    return d ? ctx->Json(200, DeliveryJson(*d)) : ctx->Fail(d.error());
  }
  ctx->Fail(NoRoute(m, ctx->path));
}

}  // namespace http
