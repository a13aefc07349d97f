#include "service/call_service.h"

#include <algorithm>
#include <memory>

#include "core/ids.h"
#include "core/json_text.h"
#include "core/webhook_signature.h"

namespace service {

using core::Result;

namespace {

// The longest refusal reason logged (a reason may quote a name from the request).
constexpr size_t kMaxLoggedOutcomeBytes = 1024;

// `text` cut to at most `max` bytes at a UTF-8 character boundary, with "…" (U+2026) appended
// when cut.
std::string Cut(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xc0) == 0x80) --n;
  return std::string(text.substr(0, n)) + "\xe2\x80\xa6";
}

// A refusal reason as logged: cut, and each NUL byte (a reason may quote a name from the
// request, and PostgreSQL takes text as C strings) written as U+FFFD.
std::string LogOutcome(std::string_view reason) {
  std::string cut = Cut(reason, kMaxLoggedOutcomeBytes);
  if (cut.find('\0') == std::string::npos) return cut;
  std::string out;
  for (char c : cut) {
    if (c == '\0') {
      out += "\xef\xbf\xbd";
    } else {
      out += c;
    }
  }
  return out;
}

// The most a postback's logged parameters take as stored (JSON-escaped). Any 100 printable
// tags of the tag limit fit (100 × 2 × 255 bytes, with their quotes and brackets); without it,
// control characters (up to six bytes each in JSON) made one refused entry ~300 KB.
constexpr size_t kMaxLoggedParamsBytes = 64 * 1024;

// How many bytes `text` takes as a JSON string.
size_t EscapedSize(std::string_view text, std::string& scratch) {
  scratch.clear();
  core::AppendJsonEscaped(text, scratch);
  return scratch.size() + 2;
}

// The postback's parameters as logged, {"name":["value",…],…} in the order the names first
// appear, the key only as "key":"[redacted]". Bounded whatever arrived (a refused postback is
// not validated, and anyone who knows the call's UUID can send one): each name and value is cut
// to engine::kMaxTagBytes with a trailing "…", and only the first engine::kMaxTagsPerRequest
// parameters that fit in kMaxLoggedParamsBytes are kept, the rest counted in
// "[truncated]":["N more parameters not logged"].
std::string LogParams(const engine::Params& params, bool had_key) {
  constexpr size_t kMostPerByte = 6;  // "\u0001" for one control character
  size_t raw = 0;
  bool each_fits = true;
  for (const auto& [name, value] : params) {
    raw += name.size() + value.size() + 6;  // quotes, brackets, colon, comma
    each_fits =
        each_fits && name.size() <= engine::kMaxTagBytes && value.size() <= engine::kMaxTagBytes;
  }
  const bool fits = params.size() <= engine::kMaxTagsPerRequest && each_fits &&
                    raw * kMostPerByte <= kMaxLoggedParamsBytes;
  engine::Params bounded;
  if (!fits) {
    const size_t most = std::min(params.size(), engine::kMaxTagsPerRequest);
    bounded.reserve(most);
    std::string scratch;
    // The braces, the "[truncated]" member and the redacted key take the rest.
    size_t used = 128;
    for (size_t i = 0; i < most; ++i) {
      std::string name = Cut(params[i].first, engine::kMaxTagBytes);
      std::string value = Cut(params[i].second, engine::kMaxTagBytes);
      used += EscapedSize(name, scratch) + EscapedSize(value, scratch) + 4;
      if (used > kMaxLoggedParamsBytes) break;
      bounded.emplace_back(std::move(name), std::move(value));
    }
  }
  std::string out;
  core::JsonText j(out);
  using Param = engine::Params::value_type;
  j.BeginObject();
  core::WriteGroupedByKey(
      j, fits ? params : bounded, [](const Param& p) -> const std::string& { return p.first; },
      [](core::JsonText& member, auto each) {
        member.BeginArray();
        each([&](const Param& p) { member.String(p.second); });
        member.EndArray();
      });
  if (!fits && bounded.size() < params.size()) {
    j.Key("[truncated]").BeginArray();
    j.String(std::to_string(params.size() - bounded.size()) + " more parameters not logged");
    j.EndArray();
  }
  if (had_key) j.Key("key").String("[redacted]");
  j.EndObject();
  return out;
}

// The webhook deliveries of one unit of work and where they go after its commit: reserved with
// the sink and handed to it (Take), or inserted for its claims (Notify).
class Handoff {
 public:
  explicit Handoff(DeliverySink* sink) : sink_(sink) {}

  // At the start of each run of the unit (the store may run one again after a failure in its
  // group): an earlier run's reservation is given back, its deliveries were rolled back.
  void Begin() { Settle(false); }

  // Plans and saves one engine step with the webhook deliveries its effects cause (same
  // transaction). The deliveries of the unit's first step with any are offered to the sink.
  Result<void> SaveStep(store::Writer& w, engine::Call& call, engine::Outcome& outcome,
                        const engine::Context& ctx) {
    engine::PlanDeliveries(call, ctx, outcome);
    const int n = static_cast<int>(outcome.deliveries.size());
    std::optional<core::Millis> lease;
    if (n > 0 && sink_ != nullptr && reserved_ == 0) lease = sink_->Reserve(call.account_id, n);
    if (lease) {
      reserved_ = n;  // given back by Settle should anything below fail
      reserved_account_ = call.account_id;
      lease_until_ = *lease;
    } else if (n > 0) {
      notify_ = true;
    }
    for (auto& d : outcome.deliveries) {
      d.webhook_id = core::NewWebhookId();
      d.at = ctx.now;  // due now, even when the event says it happened at another time
      d.lease_until = lease;
    }
    if (auto r = w.SaveCall(call, outcome); !r) return r;
    if (lease) {
      for (const auto& d : outcome.deliveries) deliveries_.push_back(Row(call, d));
      call_ = call;
    }
    return {};
  }

  // After the unit: hands the reserved deliveries over if it committed, else gives the
  // reservation back.
  void Settle(bool committed) {
    if (reserved_ > 0) {
      if (committed && call_) {
        sink_->Take(std::move(deliveries_), std::move(*call_), lease_until_);
      } else {
        sink_->Release(reserved_account_, reserved_);
      }
    }
    if (committed && notify_ && sink_ != nullptr) sink_->Notify();
    reserved_ = 0;
    notify_ = false;
    deliveries_.clear();
    call_.reset();
  }

 private:
  // The outbox row as inserted, as a claim would read it.
  static store::Delivery Row(const engine::Call& call, const engine::PlannedDelivery& d) {
    store::Delivery row;
    row.id = d.id;
    row.account_id = call.account_id;
    row.call_id = call.id;
    row.call_uuid = call.uuid;
    row.group_id = d.group_id;
    row.request_index = d.request_index;
    row.trigger = d.trigger;
    row.webhook_id = d.webhook_id;
    row.next_attempt_at = d.at;
    row.created_at = row.updated_at = d.at;
    return row;
  }

  DeliverySink* const sink_;
  int reserved_ = 0;
  store::Id reserved_account_ = 0;
  core::Millis lease_until_ = 0;
  bool notify_ = false;
  std::vector<store::Delivery> deliveries_;
  std::optional<engine::Call> call_;
};

// Shares one result between a unit of work and its completion.
template <typename T>
struct Slot {
  explicit Slot(DeliverySink* sink) : handoff(sink) {}
  std::optional<T> value;
  Handoff handoff;
};

// The completion of a unit of work that filled `out`: its deliveries go to the sink, then the
// error or the value to `done`.
template <typename T>
store::Store::Done Complete(std::shared_ptr<Slot<T>> out, Callback<T> done) {
  return [out = std::move(out), done = std::move(done)](Result<void> r) {
    out->handoff.Settle(static_cast<bool>(r));
    if (!r) return done(std::move(r).error());
    done(std::move(*out->value));
  };
}

// When the call's key stops working under this configuration, if the call has ended.
std::optional<core::Millis> KeyExpiryIn(const config::Snapshot& snap, const engine::Call& call) {
  if (!call.ended_at) return std::nullopt;
  const config::Account* account = snap.FindAccount(call.account_id);
  int64_t ttl = account ? account->call_key_ttl_seconds : 30 * 86400;
  return *call.ended_at + ttl * 1000;
}

}  // namespace

CallService::CallService(store::Store& store, ConfigService& config, const core::Clock& clock,
                         const core::CallKeys& keys, std::function<uint64_t()> random)
    : store_(store), config_(config), clock_(clock), keys_(keys), random_(std::move(random)) {}

std::optional<core::Millis> CallService::KeyExpiry(const engine::Call& call) const {
  return KeyExpiryIn(*config_.snapshot(), call);
}

void CallService::Start(Id account_id, StartRequest req, Callback<Started> done) {
  auto snap = config_.snapshot();
  const config::Account* account = snap->FindAccount(account_id);
  if (account == nullptr) return done(core::NotFound("no such account"));
  engine::StartInput in;
  if (req.number) {
    in.number = snap->FindNumber(*req.number);
    if (in.number == nullptr || in.number->account_id != account_id) {
      return done(core::MakeError(core::ErrorCode::kNotFound, "no tracking number " + *req.number,
                                  "number"));
    }
    in.campaign = config::Snapshot::Find(snap->campaigns, account_id, in.number->campaign_id);
  } else if (req.campaign_id) {
    in.campaign = config::Snapshot::Find(snap->campaigns, account_id, *req.campaign_id);
    if (in.campaign == nullptr) {
      return done(core::MakeError(core::ErrorCode::kNotFound,
                                  "no campaign with id " + std::to_string(*req.campaign_id),
                                  "campaign_id"));
    }
  } else {
    return done(core::InvalidArgument("number or campaign_id is required", "number"));
  }
  if (in.campaign == nullptr) return done(core::Internal("the number's campaign is missing"));
  if (req.publisher_id &&
      !config::Snapshot::Find(snap->publishers, account_id, *req.publisher_id)) {
    return done(core::InvalidArgument(
        "publisher_id: no publisher with id " + std::to_string(*req.publisher_id), "publisher_id"));
  }
  in.publisher_id = req.publisher_id;
  in.caller_number = req.caller_number;
  in.edge_tags = std::move(req.tags);
  const core::Millis now = clock_.Now();
  // A time ahead of `now` is taken as `now` (as engine::StartCall takes it), here already: the
  // repeat-caller window counts back from it.
  in.at = std::min(req.at.value_or(now), now);
  std::string edge_call_id = std::move(req.edge_call_id);
  const uint64_t random = random_();
  auto out = std::make_shared<Slot<Started>>(sink_);
  store_.Write(
      [this, snap, account, in, now, random, out, route = req.route, sip_only = req.sip_only,
       edge_call_id](store::Writer& w) -> Result<void> {
        out->handoff.Begin();
        engine::Context ctx{*snap, *account, now};
        if (!edge_call_id.empty()) {
          auto existing = w.FindCallByEdgeId(account->id, edge_call_id);
          if (!existing) return std::move(existing).error();
          if (*existing) {
            Started again;
            again.call = std::move(**existing);
            again.existing = true;
            if (again.call.buyer_id) {
              const auto* b =
                  config::Snapshot::Find(snap->buyers, account->id, *again.call.buyer_id);
              if (b != nullptr) again.buyer = *b;
            }
            out->value = std::move(again);
            return {};
          }
        }
        std::optional<engine::PreviousCall> previous;
        const auto& repeat = in.campaign->repeat_callers;
        if (repeat.enabled && !in.caller_number.empty()) {
          auto p = w.FindPreviousCall(account->id, in.campaign->id, in.caller_number,
                                      in.at - repeat.window_seconds * 1000, in.at);
          if (!p) return std::move(p).error();
          previous = std::move(*p);
        }
        // The buyer is chosen before the stored tags are taken (the router reads none of them),
        // so that a SIP lookup that finds no buyer, whose call is closed at once, leaves them for
        // the caller's next call.
        std::optional<Id> buyer;
        if (route) {
          // Live calls are counted only when a buyer of the campaign has a concurrency cap
          // (on a shared store, counting takes the account's routing lock).
          std::map<Id, int64_t> live;
          const bool capped = std::any_of(
              in.campaign->buyers.begin(), in.campaign->buyers.end(), [&](const auto& cb) {
                const auto* b = config::Snapshot::Find(snap->buyers, account->id, cb.buyer_id);
                return b != nullptr && b->concurrency_cap.has_value();
              });
          if (capped) {
            auto counted = w.LiveCallsByBuyer(account->id);
            if (!counted) return std::move(counted).error();
            live = std::move(*counted);
          }
          engine::Call of_campaign;
          of_campaign.account_id = account->id;
          of_campaign.campaign_id = in.campaign->id;
          buyer = engine::ChooseBuyer(of_campaign, previous, live, random, ctx, sip_only);
        }
        // Tags publishers wrote for this caller apply now, before routing, and are used up.
        engine::StartInput input = in;
        if (!in.caller_number.empty() && (buyer || !sip_only)) {
          auto stored = w.TakePrecallTags(account->id, in.caller_number, now);
          if (!stored) return std::move(stored).error();
          for (auto& t : *stored) {
            input.publisher_tags.push_back({t.publisher_id, std::move(t.key), std::move(t.value)});
          }
        }
        engine::Outcome outcome;
        Started started;
        started.call = engine::StartCall(core::NewUuidV4(), input, previous, ctx, outcome);
        started.call.edge_call_id = edge_call_id;
        if (buyer) {
          engine::Event routed{engine::EventType::kRouted, in.at, *buyer, std::nullopt, ""};
          auto r = engine::ApplyEvent(started.call, routed, ctx);
          if (!r) return std::move(r).error();
          for (auto& t : r->new_tags) outcome.new_tags.push_back(std::move(t));
          for (auto& e : r->effects) outcome.effects.push_back(std::move(e));
          started.buyer = *config::Snapshot::Find(snap->buyers, account->id, *buyer);
        }
        if (auto s = out->handoff.SaveStep(w, started.call, outcome, ctx); !s) return s;
        out->value = std::move(started);
        return {};
      },
      Complete(out, std::move(done)));
}

void CallService::ApplyEvent(Id account_id, std::string uuid, engine::Event event,
                             Callback<engine::Call> done) {
  auto normalized = core::NormalizeUuid(uuid);
  if (!normalized) return done(core::InvalidArgument("the call UUID is malformed", "uuid"));
  auto snap = config_.snapshot();
  const config::Account* account = snap->FindAccount(account_id);
  if (account == nullptr) return done(core::NotFound("no such account"));
  const core::Millis now = clock_.Now();
  if (event.at == 0) event.at = now;
  auto out = std::make_shared<Slot<engine::Call>>(sink_);
  store_.Write(
      [snap, account, id = *normalized, event, now, out](store::Writer& w) -> Result<void> {
        out->handoff.Begin();
        auto found = w.FindCall(id);
        if (!found) return std::move(found).error();
        if (!*found || (*found)->account_id != account->id) return core::NotFound("no such call");
        engine::Call& call = **found;
        engine::Context ctx{*snap, *account, now};
        auto outcome = engine::ApplyEvent(call, event, ctx);
        if (!outcome) return std::move(outcome).error();
        if (outcome->changed) {
          if (auto s = out->handoff.SaveStep(w, call, *outcome, ctx); !s) return s;
        }
        out->value = std::move(call);
        return {};
      },
      Complete(out, std::move(done)));
}

void CallService::Postback(PostbackRequest req, Callback<PostbackAnswer> done) {
  auto normalized = core::NormalizeUuid(req.uuid);
  if (!normalized) {
    return done(PostbackAnswer{400, "the call UUID is malformed"});
  }
  auto snap = config_.snapshot();
  const core::Millis now = clock_.Now();
  // What needs no stored state is done here, on the caller's thread, so that the writer does
  // only the unit itself: the key check (an HMAC of the UUID, unless the caller made it) and the
  // log line's parameters.
  const bool key_ok = req.key && !req.key->empty() &&
                      (req.key_matches ? *req.key_matches : keys_.Verify(*normalized, *req.key));
  std::string log_params = LogParams(req.params, req.key.has_value());
  auto out = std::make_shared<Slot<PostbackAnswer>>(sink_);
  store_.Write(
      [snap, req = std::move(req), id = *normalized, now, key_ok,
       log_params = std::move(log_params), out](store::Writer& w) -> Result<void> {
        out->handoff.Begin();
        auto found = w.FindCall(id);
        if (!found) return std::move(found).error();
        if (!*found) {
          out->value = req.malformed ? PostbackAnswer{400, *req.malformed}
                                     : PostbackAnswer{404, "call not found"};
          return {};
        }
        engine::Call& call = **found;
        PostbackAnswer answer;
        const config::Account* account = snap->FindAccount(call.account_id);
        auto expiry = KeyExpiryIn(*snap, call);
        if (req.malformed) {
          answer = {400, *req.malformed};
        } else if (!req.key || req.key->empty()) {
          answer = {401, "the call key is missing"};
        } else if (!key_ok) {
          answer = {401, "the call key is wrong"};
        } else if (expiry && now >= *expiry) {
          answer = {410, "the call key has expired"};
        } else if (account == nullptr) {
          answer = {404, "call not found"};
        } else {
          engine::Context ctx{*snap, *account, now};
          auto result = engine::ApplyPostback(call, req.params, ctx);
          if (!result) {
            const auto& e = result.error();
            answer = {e.code == core::ErrorCode::kUnprocessable ? 422 : 400, e.message};
          } else {
            if (result->outcome.changed) {
              if (auto s = out->handoff.SaveStep(w, call, result->outcome, ctx); !s) return s;
            }
            answer = {200, result->status, {}, {}, std::move(result->tag_values)};
          }
        }
        // Accepted postbacks are always logged; refused ones up to a cap per call.
        answer.logged = true;
        if (answer.http_status != 200) {
          auto counts = w.CountPostbacks(call.id);
          if (!counts) return std::move(counts).error();
          answer.logged = counts->refused < kMaxRefusedPostbacksLogged;
        }
        if (answer.logged) {
          store::PostbackLog log{now, req.method, log_params, LogOutcome(answer.message),
                                 answer.http_status};
          if (auto a = w.AppendPostback(call.id, log); !a) return a;
        }
        answer.call_uuid = call.uuid;
        answer.conversion = call.conversion;
        out->value = std::move(answer);
        return {};
      },
      Complete(out,
               Callback<PostbackAnswer>([this, done = std::move(done)](Result<PostbackAnswer> r) {
                 if (r && !r->logged) refusals_not_logged_.fetch_add(1, std::memory_order_relaxed);
                 done(std::move(r));
               })));
}

Result<int> CallService::StepEach(std::vector<std::string> uuids, core::Millis now,
                                  const Step& step) {
  if (uuids.empty()) return 0;
  // In one order everywhere: a shared store locks each call as it is read, and two nodes
  // stepping overlapping sets then never wait for each other in a cycle.
  std::sort(uuids.begin(), uuids.end());
  auto snap = config_.snapshot();
  int changed = 0;
  Handoff handoff(sink_);
  auto written = store_.WriteSync([&](store::Writer& w) -> Result<void> {
    changed = 0;  // the store may run a unit again
    handoff.Begin();
    for (const auto& uuid : uuids) {
      auto found = w.FindCall(uuid);
      if (!found) return std::move(found).error();
      if (!*found) continue;
      engine::Call& call = **found;
      const config::Account* account = snap->FindAccount(call.account_id);
      if (account == nullptr) continue;
      engine::Context ctx{*snap, *account, now};
      auto outcome = step(call, ctx);
      if (!outcome) return std::move(outcome).error();
      if (outcome->changed) ++changed;
      if (outcome->changed || outcome->timer != engine::Outcome::Timer::kKeep) {
        if (auto s = handoff.SaveStep(w, call, *outcome, ctx); !s) return s;
      }
    }
    return {};
  });
  handoff.Settle(static_cast<bool>(written));
  if (written) return changed;
  // Not when the store itself is unavailable: every call alone would fail the same way.
  if (uuids.size() == 1 || written.error().code == core::ErrorCode::kUnavailable) {
    return std::move(written).error();
  }
  // One call's failure fails the whole batch. Each then goes on its own, so that the others are
  // not held up behind it: left so, their claims would run out and the same batch, the earliest
  // due, be claimed and fail again, for as long as that one call fails.
  // The error of a call that fails on its own still comes back (the caller logs it).
  changed = 0;
  std::optional<core::Error> failed;
  for (auto& uuid : uuids) {
    const std::string name = uuid;
    auto one = StepEach({std::move(uuid)}, now, step);
    if (one) {
      changed += *one;
    } else if (!failed) {
      failed = std::move(one).error();
      failed->message = "call " + name + ": " + failed->message;
    }
  }
  if (failed) return std::move(*failed);
  return changed;
}

Result<int> CallService::FireDueDeadlines(core::Millis now, int limit, core::Millis lease) {
  // Claimed under a lease first (one short write that never waits for a call's lock), then
  // decided: with several nodes on one database each deadline is claimed by one of them, and
  // deciding locks the call, so a postback racing the deadline sees the decision or makes it.
  std::vector<std::string> due;
  std::vector<core::Millis> due_at;
  auto r = store_.WriteSync([&](store::Writer& w) -> Result<void> {
    due.clear();  // the store may run a unit again
    due_at.clear();
    auto d = w.ClaimDueDeadlines(now, now + lease, limit);
    if (!d) return std::move(d).error();
    for (auto& [uuid, at] : *d) due.push_back(std::move(uuid)), due_at.push_back(at);
    return {};
  });
  if (!r) return std::move(r).error();
  auto fired = StepEach(due, now, [](engine::Call& call, const engine::Context& ctx) {
    engine::Outcome outcome = engine::FireDeadline(call, ctx);
    // Decided already (a conversion won): the deadline row is stale; drop it.
    if (!outcome.changed) outcome.timer = engine::Outcome::Timer::kClear;
    return Result<engine::Outcome>(std::move(outcome));
  });
  if (fired) {
    std::lock_guard lock(metrics_mu_);
    for (core::Millis at : due_at) timer_lag_.Observe(static_cast<double>(now - at) / 1000.0);
  }
  return fired;
}

Result<void> CallService::RenderMetrics(std::string& out, bool with_store) {
  out +=
      "# HELP callpost_postback_refusals_not_logged_total Refused buyer postbacks answered but "
      "not logged (the call's log held the most refusals it keeps).\n"
      "# TYPE callpost_postback_refusals_not_logged_total counter\n"
      "callpost_postback_refusals_not_logged_total " +
      std::to_string(refusals_not_logged_.load(std::memory_order_relaxed)) +
      "\n# HELP callpost_timer_lag_seconds Deadlines fired by this node: seconds from the due "
      "time to the decision.\n# TYPE callpost_timer_lag_seconds histogram\n";
  {
    std::lock_guard lock(metrics_mu_);
    timer_lag_.Render(out, "callpost_timer_lag_seconds");
  }
  if (!with_store) return {};
  const core::Millis now = clock_.Now();
  store::DeadlineCounts counts;
  auto r = store_.Read([&](store::Reader& rd) -> Result<void> {
    auto c = rd.CountDeadlines(now);
    if (!c) return std::move(c).error();
    counts = *c;
    return {};
  });
  if (!r) return r;
  const double overdue =
      counts.oldest_due ? static_cast<double>(now - *counts.oldest_due) / 1000.0 : 0.0;
  out +=
      "# HELP callpost_timers_pending Postback deadlines pending (calls awaiting their postback).\n"
      "# TYPE callpost_timers_pending gauge\ncallpost_timers_pending " +
      std::to_string(counts.pending) +
      "\n# HELP callpost_timers_due Pending postback deadlines already past their due time.\n"
      "# TYPE callpost_timers_due gauge\ncallpost_timers_due " +
      std::to_string(counts.due) +
      "\n# HELP callpost_timers_overdue_seconds How long the oldest due deadline has waited "
      "(0 when none is due).\n# TYPE callpost_timers_overdue_seconds gauge\n"
      "callpost_timers_overdue_seconds " +
      std::to_string(overdue) + "\n";
  return {};
}

Result<CallDetails> CallService::Get(Id account_id, std::string_view uuid) {
  auto normalized = core::NormalizeUuid(uuid);
  if (!normalized) return core::InvalidArgument("the call UUID is malformed", "uuid");
  CallDetails details;
  auto r = store_.Read([&](store::Reader& rd) -> Result<void> {
    auto found = rd.FindCall(*normalized);
    if (!found) return std::move(found).error();
    if (!*found || (*found)->account_id != account_id) return core::NotFound("no such call");
    details.call = std::move(**found);
    auto postbacks = rd.ListPostbacks(details.call.id, kMaxPostbacksShown);
    if (!postbacks) return std::move(postbacks).error();
    details.postbacks = std::move(*postbacks);
    if (static_cast<int>(details.postbacks.size()) < kMaxPostbacksShown) {
      details.postbacks_total = static_cast<int64_t>(details.postbacks.size());
    } else {
      auto counts = rd.CountPostbacks(details.call.id);
      if (!counts) return std::move(counts).error();
      details.postbacks_total = counts->total;
    }
    auto effects = rd.ListEffects(details.call.id);
    if (!effects) return std::move(effects).error();
    details.effects = std::move(*effects);
    auto deliveries =
        rd.ListDeliveries(store::DeliveryFilter{account_id, details.call.id, {}, {}, 1000});
    if (!deliveries) return std::move(deliveries).error();
    details.deliveries.assign(deliveries->rbegin(), deliveries->rend());
    return {};
  });
  if (!r) return std::move(r).error();
  return details;
}

Result<std::vector<engine::Call>> CallService::List(const store::CallFilter& filter) {
  std::vector<engine::Call> calls;
  auto r = store_.Read([&](store::Reader& rd) -> Result<void> {
    auto l = rd.ListCalls(filter);
    if (!l) return std::move(l).error();
    calls = std::move(*l);
    return {};
  });
  if (!r) return std::move(r).error();
  return calls;
}

Result<engine::Call> CallService::GetWithKey(std::string_view uuid, std::string_view key) {
  auto normalized = core::NormalizeUuid(uuid);
  if (!normalized) return core::InvalidArgument("the call UUID is malformed", "uuid");
  std::optional<engine::Call> call;
  auto r = store_.Read([&](store::Reader& rd) -> Result<void> {
    auto found = rd.FindCall(*normalized);
    if (!found) return std::move(found).error();
    call = std::move(*found);
    return {};
  });
  if (!r) return std::move(r).error();
  if (!call) return core::NotFound("call not found");
  if (key.empty())
    return core::MakeError(core::ErrorCode::kUnauthenticated, "the call key is missing");
  if (!keys_.Verify(call->uuid, key)) {
    return core::MakeError(core::ErrorCode::kUnauthenticated, "the call key is wrong");
  }
  auto expiry = KeyExpiry(*call);
  if (expiry && clock_.Now() >= *expiry) {
    return core::MakeError(core::ErrorCode::kGone, "the call key has expired");
  }
  return std::move(*call);
}

Result<std::vector<store::Delivery>> CallService::ListDeliveries(
    const store::DeliveryFilter& filter) {
  std::vector<store::Delivery> out;
  auto r = store_.Read([&](store::Reader& rd) -> Result<void> {
    auto l = rd.ListDeliveries(filter);
    if (!l) return std::move(l).error();
    out = std::move(*l);
    return {};
  });
  if (!r) return std::move(r).error();
  return out;
}

Result<store::Delivery> CallService::ResendDelivery(Id account_id, Id id) {
  auto r = store_.WriteSync(
      [&](store::Writer& w) { return w.ResendDelivery(account_id, id, clock_.Now()); });
  if (!r) return std::move(r).error();
  if (sink_ != nullptr) sink_->Notify();
  return GetDelivery(account_id, id);
}

Result<store::Delivery> CallService::GetDelivery(Id account_id, Id id) {
  std::optional<store::Delivery> d;
  auto read = store_.Read([&](store::Reader& rd) -> Result<void> {
    auto found = rd.FindDelivery(account_id, id);
    if (!found) return std::move(found).error();
    d = std::move(*found);
    return {};
  });
  if (!read) return std::move(read).error();
  if (!d) return core::NotFound("no delivery with id " + std::to_string(id));
  return std::move(*d);
}

void CallService::DataWriting(DataWritingRequest req, Callback<DataWritingAnswer> done) {
  PublisherKeyLookup found =
      req.lookup ? std::move(*req.lookup) : config_.FindPublisherKey(req.key);
  auto snap = std::move(found.snapshot);
  const config::PublisherKey* key = found.key;
  auto refuse = [&](int status, std::string reason) {
    DataWritingAnswer a;
    a.http_status = status;
    a.message = std::move(reason);
    done(std::move(a));
  };
  if (key == nullptr) return refuse(401, "the publisher key is not valid");
  if (key->paused) return refuse(403, "the publisher key is paused");
  if (req.malformed) return refuse(400, *req.malformed);
  const config::Account* account = snap->FindAccount(key->account_id);
  if (account == nullptr) return refuse(401, "the publisher key is not valid");
  std::string caller;
  if (req.caller_number) {
    auto e164 = core::NormalizePhone(*req.caller_number);
    if (!e164) return refuse(400, "caller_number must be a phone number such as +15551230000");
    caller = *e164;
  }
  std::optional<std::string> uuid;
  if (req.call_uuid) {
    uuid = core::NormalizeUuid(*req.call_uuid);
    if (!uuid) return refuse(400, "call_uuid is malformed");
  }
  if (caller.empty() && !uuid) return refuse(400, "caller_number or call_uuid is required");
  if (req.tags.empty()) return refuse(400, "no tags to write");
  if (req.tags.size() > engine::kMaxTagsPerRequest) {
    return refuse(400, "a request may carry at most 100 tags");
  }
  for (const auto& [k, v] : req.tags) {
    if (auto ok = engine::ValidateTag(k, v); !ok) return refuse(400, ok.error().message);
  }
  req.tags = engine::DistinctPairs(req.tags);  // written, and echoed, once each
  const core::Millis now = clock_.Now();
  auto out = std::make_shared<Slot<DataWritingAnswer>>(sink_);
  store_.Write(
      [snap, key, account, caller, uuid, tags = std::move(req.tags), now,
       out](store::Writer& w) -> Result<void> {
        out->handoff.Begin();
        const core::Millis cutoff = now - kDataWritingCutoffSeconds * 1000;
        std::optional<engine::Call> call;
        if (uuid) {
          auto found = w.FindCall(*uuid);
          if (!found) return std::move(found).error();
          if (!*found || (*found)->account_id != account->id) {
            out->value = DataWritingAnswer{404, "call not found", {}, {}, {}};
            return {};
          }
          if ((*found)->ended_at && *(*found)->ended_at < cutoff) {
            out->value = DataWritingAnswer{410, "the call ended too long ago", {}, {}, {}};
            return {};
          }
          call = std::move(*found);
        } else {
          auto found = w.FindRecentCallByCaller(account->id, caller, cutoff);
          if (!found) return std::move(found).error();
          call = std::move(*found);
        }
        if (!call) {
          if (auto s = w.InsertPrecallTags(account->id, key->publisher_id, caller, tags, now,
                                           now + key->storage_seconds * 1000);
              !s) {
            // Refused before anything was written: an answer, as the call's tag limit is.
            if (s.error().code != core::ErrorCode::kUnprocessable) return s;
            out->value = DataWritingAnswer{422, s.error().message, {}, {}, {}};
            return {};
          }
          out->value = DataWritingAnswer{200, "call not found, tags stored", tags, caller, {}};
          return {};
        }
        engine::Context ctx{*snap, *account, now};
        auto outcome = engine::ApplyPublisherTags(*call, tags, key->publisher_id, ctx);
        if (!outcome) {
          const bool full = outcome.error().code == core::ErrorCode::kUnprocessable;
          out->value = DataWritingAnswer{full ? 422 : 400, outcome.error().message, {}, {}, {}};
          return {};
        }
        if (outcome->changed) {
          if (auto s = out->handoff.SaveStep(w, *call, *outcome, ctx); !s) return s;
        }
        out->value = DataWritingAnswer{200, "call found, tags applied", tags, {}, call->uuid};
        return {};
      },
      Complete(out, std::move(done)));
}

Result<int64_t> CallService::SweepPrecallTags(core::Millis now) {
  int64_t dropped = 0;
  auto r = store_.WriteSync([&](store::Writer& w) -> Result<void> {
    auto n = w.DeleteExpiredPrecallTags(now);
    if (!n) return std::move(n).error();
    dropped = *n;
    return {};
  });
  if (!r) return std::move(r).error();
  return dropped;
}

Result<int> CallService::CloseStaleCalls(core::Millis now, int64_t max_call_seconds) {
  std::vector<std::string> open;
  auto r = store_.Read([&](store::Reader& rd) -> Result<void> {
    auto l = rd.ListOpenCalls(now - max_call_seconds * 1000, 1000);
    if (!l) return std::move(l).error();
    open = std::move(*l);
    return {};
  });
  if (!r) return std::move(r).error();
  return StepEach(open, now, [now](engine::Call& call, const engine::Context& ctx) {
    engine::Event ended{engine::EventType::kEnded, now, std::nullopt, std::nullopt,
                        std::string(engine::kHungUpStale)};
    return engine::ApplyEvent(call, ended, ctx);
  });
}

}  // namespace service
