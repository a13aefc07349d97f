#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/crypto.h"
#include "core/ids.h"
#include "core/json_text.h"
#include "http/api_internal.h"

namespace http {

namespace json = boost::json;

extern const char* const kOpenApiJson;  // openapi_data.cc, generated from openapi.json

namespace {

// True for a segment that may be logged as it is: short, a UUID, or a word of the routes
// ("conversion_groups"). A longer one may be a key put in the wrong place (API keys, call keys
// and signing secrets are long and mix cases and digits).
bool LoggableSegment(std::string_view segment) {
  constexpr size_t kLongest = 15;
  if (segment.size() <= kLongest) return true;
  if (std::all_of(segment.begin(), segment.end(),
                  [](char c) { return c == '_' || (c >= 'a' && c <= 'z'); })) {
    return true;
  }
  return segment.size() == 36 && core::NormalizeUuid(segment).has_value();
}

// Whether the request carries "Authorization: Bearer <token>" (compared in constant time).
bool BearerIs(const Request& request, std::string_view token) {
  const std::string* auth = request.FindHeader("Authorization");
  return auth != nullptr && auth->size() > 7 && strncasecmp(auth->c_str(), "Bearer ", 7) == 0 &&
         core::ConstantTimeEquals(std::string_view(*auth).substr(7), token);
}

// The path as logged: every segment LoggableSegment refuses as "[redacted]".
const std::string& PathToLog(const std::string& path) {
  thread_local std::string out;
  out.clear();
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start + 1);
    if (end == std::string::npos) end = path.size();
    const std::string_view segment(path.data() + start, end - start);  // with its '/'
    out += LoggableSegment(segment.substr(1)) ? segment : std::string_view("/[redacted]");
    start = end;
  }
  return out;
}

}  // namespace

void Api::Ctx::Reply(Response response) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics->Record(route, response.status, seconds);
  // The access-log line, written straight into a reused buffer (building it as a JSON object
  // and serializing that allocated a dozen times per request).
  thread_local std::string line;
  line.clear();
  core::JsonText j(line);
  j.BeginObject().Key("msg").String("request").Key("request_id").String(request.request_id);
  j.Key("method").String(request.method).Key("route").String(route).Key("path");
  j.String(PathToLog(path));  // any path may hold a key put in the wrong place
  j.Key("status").Int(response.status).Key("us").Int(static_cast<int64_t>(seconds * 1e6));
  j.Key("remote").String(request.remote_address);
  if (account_id != 0) j.Key("account_id").Int(account_id);
  j.EndObject();
  if (response.status >= 500) {
    spdlog::error(line);
  } else {
    spdlog::info(line);
  }
  if (request.method == "HEAD") response.head_only = true;
  // Answers carry call keys, new API keys and signing secrets: no cache keeps one (the
  // console's files say their own).
  if (std::none_of(response.headers.begin(), response.headers.end(),
                   [](const Header& h) { return h.name == "Cache-Control"; })) {
    response.headers.push_back({"Cache-Control", "no-store"});
  }
  respond(std::move(response));
}

bool Api::Ctx::Query(engine::Params& out) {
  auto q = ParseForm(query);
  if (!q) {
    Fail(q.error());
    return false;
  }
  out = std::move(*q);
  return true;
}

std::optional<config::Id> ParseId(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  config::Id id = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    id = id * 10 + (c - '0');
  }
  return id > 0 ? std::optional<config::Id>(id) : std::nullopt;
}

core::Result<void> CheckListQuery(engine::Params& query,
                                  std::initializer_list<std::string_view> filters, bool paged) {
  std::erase_if(query, [](const auto& param) { return param.second.empty(); });
  for (const auto& [k, v] : query) {
    if (paged && (k == "limit" || k == "cursor")) continue;
    if (std::find(filters.begin(), filters.end(), k) == filters.end()) {
      return core::InvalidArgument(k + ": unknown filter", k);
    }
  }
  return {};
}

core::Result<PageRequest> ReadPage(engine::Params& query,
                                   std::initializer_list<std::string_view> filters) {
  if (auto known = CheckListQuery(query, filters); !known) return std::move(known).error();
  PageRequest page;
  if (const auto* l = FindParam(query, "limit")) {
    auto n = ParseId(*l);
    if (!n || *n > 500) return core::InvalidArgument("limit: must be between 1 and 500", "limit");
    page.limit = static_cast<int>(*n);
  }
  if (const auto* c = FindParam(query, "cursor"); c && !c->empty()) {
    auto n = ParseId(*c);
    if (!n) return core::InvalidArgument("cursor: is not a cursor this API returned", "cursor");
    page.after_id = *n;
  }
  return page;
}

Api::Api(ApiOptions options, service::ConfigService& config, service::CallService& calls,
         store::Store& store)
    : options_(std::move(options)),
      metrics_token_(options_.metrics_token),
      config_(config),
      calls_(calls),
      store_(store),
      api_key_limiter_(options_.api_key_limit),
      call_key_limiter_(options_.call_key_limit),
      waiting_(kWaitingThreads, kMaxWaitingRequests, "http-wait") {}

void Api::OffIoThread(const CtxPtr& ctx, void (Api::*route)(const CtxPtr&)) {
  const bool queued = waiting_.Post([this, ctx, route] {
    // As the server does for a handler on its I/O thread: an exception is a 500, not the end
    // of the process.
    try {
      (this->*route)(ctx);
    } catch (const std::exception& e) {
      ctx->Fail(core::Internal(std::string("unexpected error: ") + e.what()));
    } catch (...) {
      ctx->Fail(core::Internal("unexpected error"));
    }
  });
  if (queued) return;
  ctx->Fail(core::MakeError(core::ErrorCode::kUnavailable,
                            "too many requests wait for the store; retry in a moment"));
}

void Api::SetPublicUrl(std::string url) {
  std::lock_guard lock(options_mu_);
  options_.public_url = std::move(url);
}

void Api::Handle(Request request, Responder respond) {
  auto ctx = std::make_shared<Ctx>();
  ctx->request = std::move(request);
  ctx->respond = std::move(respond);
  ctx->metrics = &metrics_;
  Target t = SplitTarget(ctx->request.target);
  ctx->query = t.query;
  if (t.path.empty() || t.path[0] != '/') {
    return ctx->Fail(core::InvalidArgument("the request target must be a path"));
  }
  size_t pos = 1;
  while (pos <= t.path.size()) {
    size_t next = t.path.find('/', pos);
    if (next == std::string_view::npos) next = t.path.size();
    auto seg = DecodeSegment(t.path.substr(pos, next - pos));
    if (!seg) return ctx->Fail(seg.error());
    if (!seg->empty()) ctx->segments.push_back(std::move(*seg));
    pos = next + 1;
  }
  for (const auto& s : ctx->segments) ctx->path += "/" + s;
  if (ctx->path.empty()) ctx->path = "/";
  Route(ctx);
}

void Api::Route(const CtxPtr& ctx) {
  const auto& s = ctx->segments;
  if (s.size() >= 2 && s[0] == "api" && s[1] == "v1") return Operator(ctx);
  if (s.size() == 2 && s[0] == "sip") return SipRoutes(ctx);
  if (!s.empty() && s[0] == "console") return Console(ctx);
  if (!s.empty() && s[0] == "data_writing") {
    ctx->path = "/data_writing/[redacted]";  // the path holds the publisher's key
    if (s.size() == 2) return DataWriting(ctx);
    return ctx->Fail(core::NotFound("no route for " + ctx->request.method + " " + ctx->path));
  }
  if (!s.empty() && s[0] == "calls") {
    if (s.size() == 3 && (s[2] == "add_tags" || s[2] == "postback")) return Postback(ctx);
    if (s.size() == 2) return BuyerView(ctx);
  }
  Ops(ctx);
}

void Api::Ops(const CtxPtr& ctx) {
  const auto& s = ctx->segments;
  const std::string& m = ctx->request.method;
  if (s.size() == 1 && (m == "GET" || m == "HEAD")) {
    if (s[0] == "healthz") {
      ctx->route = "/healthz";
      return ctx->Json(200, json::object{{"status", "ok"}});
    }
    if (s[0] == "openapi.json") {
      ctx->route = "/openapi.json";
      Response r;
      r.body = kOpenApiJson;
      return ctx->Reply(std::move(r));
    }
    if (s[0] == "metrics") {
      ctx->route = "/metrics";
      if (!metrics_token_.empty() && !BearerIs(ctx->request, metrics_token_)) {
        return ctx->Fail(core::MakeError(
            core::ErrorCode::kUnauthenticated,
            "send the metrics token (serve --metrics-token) as Authorization: Bearer <token>"));
      }
      Response r;
      r.content_type = "text/plain; version=0.0.4";
      metrics_.Render(r.body);
      std::string counted;  // appended once the database has answered all of it
      auto counts = store_.Read([&](store::Reader& rd) -> core::Result<void> {
        counted.clear();
        auto c = rd.CountCallsByStatus();
        if (!c) return std::move(c).error();
        counted += "# HELP callpost_calls Calls by status.\n# TYPE callpost_calls gauge\n";
        for (const char* status : {"started", "routed", "answered", "ended", "completed"}) {
          auto it = c->find(status);
          counted += "callpost_calls{status=\"" + std::string(status) + "\"} " +
                     std::to_string(it == c->end() ? 0 : it->second) + "\n";
        }
        auto d = rd.CountDeliveriesByState();
        if (!d) return std::move(d).error();
        counted +=
            "# HELP callpost_webhook_deliveries Webhook deliveries by state (pending and "
            "retrying make the outbox depth).\n# TYPE callpost_webhook_deliveries gauge\n";
        for (const char* state : {"pending", "retrying", "delivered", "failed"}) {
          auto it = d->find(state);
          counted += "callpost_webhook_deliveries{state=\"" + std::string(state) + "\"} " +
                     std::to_string(it == d->end() ? 0 : it->second) + "\n";
        }
        return {};
      });
      // The counts come from the database; when it cannot answer (an outage, when metrics
      // matter most), the process's own metrics are still served, with the database down.
      if (counts) r.body += counted;
      auto timers = calls_.RenderMetrics(r.body, /*with_store=*/counts.has_value());
      r.body +=
          "# HELP callpost_database_up Whether the database answered every count of this scrape "
          "(calls, deliveries, timers); when 0, those it could not give are left out.\n"
          "# TYPE callpost_database_up gauge\ncallpost_database_up ";
      r.body += counts && timers ? "1\n" : "0\n";
      store_.RenderMetrics(r.body);
      if (extra_metrics_) extra_metrics_(r.body);
      return ctx->Reply(std::move(r));
    }
  }
  ctx->Fail(core::NotFound("no route for " + m + " " + ctx->path));
}

bool Api::Authenticate(const CtxPtr& ctx, const engine::Params* query) {
  std::string_view key;
  const std::string* auth = ctx->request.FindHeader("Authorization");
  if (auth != nullptr && auth->size() > 7 && strncasecmp(auth->c_str(), "Bearer ", 7) == 0) {
    key = std::string_view(*auth).substr(7);
  } else if (const std::string* token = query ? FindParam(*query, "token") : nullptr) {
    key = *token;
  } else {
    ctx->Fail(core::MakeError(core::ErrorCode::kUnauthenticated,
                              query ? "send an account API key as Authorization: Bearer <key> or "
                                      "?token=<key>"
                                    : "send an account API key as Authorization: Bearer <key>"));
    return false;
  }
  auto account = config_.Authenticate(key);
  if (!account) {
    ctx->Fail(core::MakeError(core::ErrorCode::kUnauthenticated, "the API key is not valid"));
    return false;
  }
  ctx->account_id = *account;
  return Admit(ctx, api_key_limiter_, key, "API key");
}

bool Api::Admit(const CtxPtr& ctx, RateLimiter& limiter, std::string_view key, const char* what,
                bool text) {
  if (!limiter.enabled()) return true;
  const int wait = limiter.Take(key, std::chrono::steady_clock::now());
  if (wait == 0) return true;
  const std::string message = std::string("too many requests with this ") + what +
                              "; retry after " + std::to_string(wait) + " s";
  Response r;
  r.status = 429;
  if (text) {
    r.content_type = "text/plain; charset=utf-8";
    r.body = "FAILED " + message;
  } else {
    r = ErrorResponse(core::MakeError(core::ErrorCode::kRateLimited, message));
    std::erase_if(r.headers, [](const Header& h) { return h.name == "Retry-After"; });
  }
  r.headers.push_back({"Retry-After", std::to_string(wait)});
  ctx->Reply(std::move(r));
  return false;
}

void Api::Operator(const CtxPtr& ctx) {
  ctx->route = "/api/v1";
  // Several nodes: each polls the configuration's version about twice a second, but an
  // operator behind a load balancer must see what it just changed through another node (a
  // buyer it created, a key it revoked). One short read of the version first; its failure
  // leaves the request to the configuration in hand.
  if (store_.shared()) (void)config_.ReloadIfChanged();
  if (!Authenticate(ctx, nullptr)) return;
  const auto& s = ctx->segments;
  if (s.size() >= 3 && s[2] == "calls") return CallRoutes(ctx);
  if (s.size() >= 3 && s[2] == "webhook_deliveries") return OffIoThread(ctx, &Api::DeliveryRoutes);
  if (s.size() >= 3 && (s[2] == "account" || s[2] == "api_keys")) {
    return OffIoThread(ctx, &Api::AccountRoutes);
  }
  if (s.size() == 4 && s[2] == "preview") return OffIoThread(ctx, &Api::PreviewRoutes);
  OffIoThread(ctx, &Api::ConfigRoutes);
}

}  // namespace http
