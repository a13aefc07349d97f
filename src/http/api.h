// The HTTP API: routes requests to the services. Handlers stay thin: parse and authenticate,
// call a service, encode the answer. Every request is logged (JSON, with its request id, never
// with a key) and counted in the metrics.
#pragma once

#include <boost/json/fwd.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/message.h"
#include "http/metrics.h"
#include "http/rate_limit.h"
#include "http/work_pool.h"
#include "service/call_service.h"
#include "service/config_service.h"

namespace http {

struct ApiOptions {
  std::string public_url = "http://127.0.0.1:8080";  // base of postback instructions
  // Per-key rate limits (429 with Retry-After past them): each account API key, and each
  // publisher postback key, has its own bucket of api_key_limit; each call (buyer routes with
  // the right call key) one of call_key_limit. A rate of 0 turns a limit off.
  RateLimit api_key_limit;
  RateLimit call_key_limit;
  // When set, GET /metrics asks for "Authorization: Bearer <metrics_token>" (401 without it),
  // for a server whose port is reachable by more than the scraper.
  std::string metrics_token;
};

// Thread-safe: Handle() is called from every server thread at once.
class Api {
 public:
  // The threads for requests that wait for the store (configuration writes, lists, reads of
  // calls and deliveries), and how many such requests may wait for one of them.
  static constexpr int kWaitingThreads = 4;
  static constexpr size_t kMaxWaitingRequests = 4096;

  Api(ApiOptions options, service::ConfigService& config, service::CallService& calls,
      store::Store& store);

  // The server's handler.
  void Handle(Request request, Responder respond);

  Metrics& metrics() { return metrics_; }
  // Changes the base of postback instructions (set once the bound port is known).
  void SetPublicUrl(std::string url);
  // Finishes the requests that wait for the store (running on threads of their own) and takes
  // no more: call after the server stopped, before the store and the dispatcher go.
  void StopWaiting() { waiting_.Stop(); }
  // Appends more metrics (the webhook dispatcher's) to /metrics. Set once before serving.
  void SetExtraMetrics(std::function<void(std::string&)> render) {
    extra_metrics_ = std::move(render);
  }

 private:
  struct Ctx;  // one request in flight: route name, path segments, account, responder
  using CtxPtr = std::shared_ptr<Ctx>;

  void Route(const CtxPtr& ctx);
  void Operator(const CtxPtr& ctx);
  void ConfigRoutes(const CtxPtr& ctx);
  void AccountRoutes(const CtxPtr& ctx);
  void CallRoutes(const CtxPtr& ctx);
  void CreateCall(const CtxPtr& ctx);
  void CallEvent(const CtxPtr& ctx);
  void ListCalls(const CtxPtr& ctx);
  void GetCall(const CtxPtr& ctx);
  void DeliveryRoutes(const CtxPtr& ctx);
  void Postback(const CtxPtr& ctx);
  void BuyerView(const CtxPtr& ctx);
  void DataWriting(const CtxPtr& ctx);
  void SipRoutes(const CtxPtr& ctx);
  void SipRoute(const CtxPtr& ctx, const engine::Params& query);
  void SipEvent(const CtxPtr& ctx, const engine::Params& query);
  // Sets ctx->account_id from the API key in "Authorization: Bearer" or, when `query` is
  // given, its "token" parameter; answers 401 and returns false when there is none or it is
  // wrong.
  bool Authenticate(const CtxPtr& ctx, const engine::Params* query);
  void Ops(const CtxPtr& ctx);
  // GET /console...: the embedded web console (console.cc).
  void Console(const CtxPtr& ctx);
  // POST /api/v1/preview/...: payout modifier, tag filter, webhook requests (api_preview.cc).
  void PreviewRoutes(const CtxPtr& ctx);
  // Takes a token from `limiter` for `key`; when there is none, answers 429 with Retry-After
  // (as text when `text`) and returns false. `what` names the key kind in the message.
  bool Admit(const CtxPtr& ctx, RateLimiter& limiter, std::string_view key, const char* what,
             bool text = false);
  // Runs `route` on the threads that may wait for the store (work_pool.h) instead of the
  // request's I/O thread; 503 with Retry-After when kMaxWaitingRequests wait already.
  void OffIoThread(const CtxPtr& ctx, void (Api::*route)(const CtxPtr&));

  // Adds operator-only fields (postback instructions) to an encoded configuration object.
  void Decorate(boost::json::object& object, bool is_conversion_group) const;
  std::string PublicUrl() const;  // --public-url: the base of the URLs handed to partners

  mutable std::mutex options_mu_;
  ApiOptions options_;               // guarded by options_mu_
  const std::string metrics_token_;  // options_.metrics_token, read without the lock
  service::ConfigService& config_;
  service::CallService& calls_;
  store::Store& store_;
  Metrics metrics_;
  RateLimiter api_key_limiter_;
  RateLimiter call_key_limiter_;
  std::function<void(std::string&)> extra_metrics_;
  // Last: its threads finish what they run before the members they use go.
  WorkPool waiting_;
};

}  // namespace http
