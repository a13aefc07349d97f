#include "webhook/loop.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "core/ip_guard.h"
#include "webhook/excerpt.h"
#include "webhook/log_event.h"
#include "webhook/retry.h"
#include "webhook/retry_after.h"

namespace webhook {
namespace {

// Never spin on a delivery the store reports due but does not hand out.
constexpr std::chrono::milliseconds kMinWait{10};
constexpr auto kStoreErrorLogInterval = std::chrono::seconds(10);
constexpr core::Millis kNever = std::numeric_limits<core::Millis>::max();

CURLM* NewMulti(const DispatcherOptions& o) {
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) {
    LogEvent(spdlog::level::critical, "webhooks: curl_multi_init failed", [](core::JsonText&) {});
    std::abort();
  }
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(o.max_per_host));
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(o.max_in_flight));
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(o.max_in_flight));
  return multi;
}

// True when a URL's host ("host:port", as HostKey gives it) names an address the SSRF guard
// refuses in itself, not through DNS: a literal address or localhost, which no retry changes.
// A name that resolved to a refused address may resolve elsewhere later.
bool RefusedForGood(std::string_view host_key) {
  return core::ClassifyHost(host_key.substr(0, host_key.rfind(':'))) == core::HostKind::kRefused;
}

TransferOptions ToTransferOptions(const DispatcherOptions& o) {
  return TransferOptions{o.allow_private, o.attempt_timeout, o.connect_timeout,
                         o.max_response_bytes, o.excerpt_bytes};
}

}  // namespace

Dispatcher::Loop::Loop(Dispatcher& d)
    : d_(d), transfer_options_(ToTransferOptions(d.options_)), multi_(NewMulti(d.options_)) {}

Dispatcher::Loop::~Loop() {
  for (auto& [easy, job] : active_) curl_multi_remove_handle(multi_, easy);
  active_.clear();
  for (CURL* easy : idle_handles_) curl_easy_cleanup(easy);
  curl_multi_cleanup(multi_);
}

void Dispatcher::Loop::Wakeup() { curl_multi_wakeup(multi_); }

void Dispatcher::Loop::Poke() {
  // One wake-up for a burst of pokes (every unit that plans deliveries pokes): while poked_ is
  // set, the loop looks at it before it waits.
  if (!poked_.exchange(true)) Wakeup();
}

void Dispatcher::Loop::Hand(std::vector<store::Delivery> deliveries, engine::Call call,
                            core::Millis lease_until) {
  bool was_empty = false;
  {
    std::lock_guard lock(handed_mu_);
    was_empty = handed_.empty();
    handed_.push_back(Handed{std::move(deliveries), std::move(call), lease_until});
  }
  if (was_empty) Wakeup();  // one wake-up until the loop takes what is there
}

void Dispatcher::Loop::Run() {
  while (true) {
    int running = 0;
    curl_multi_perform(multi_, &running);
    Reap();
    FinishClaim();
    FinishRenew();
    TakeHanded();
    if (d_.stop_.load()) {
      DropQueued();
      // A claim or renewal under way still calls back into this loop: wait for it.
      if (active_.empty() && !claim_.busy && !renew_.busy) return;
    } else if (ShouldClaim()) {
      StartClaim();
    }
    StartQueued();
    RenewLeases();
    curl_multi_poll(multi_, nullptr, 0, WaitMillis(), nullptr);
  }
}

int Dispatcher::Loop::FreeCapacity() const {
  return d_.options_.max_in_flight - static_cast<int>(active_.size()) -
         static_cast<int>(d_.queued_.load()) - static_cast<int>(d_.reserved_.load());
}

bool Dispatcher::Loop::ClaimDeferred() const {
  // Each claim is a durable write: while enough is queued to keep every host's slots busy, wait
  // until half the capacity is free and claim that in one go, rather than a few deliveries per
  // write.
  return d_.queued_.load() >= d_.options_.max_per_host &&
         FreeCapacity() < d_.options_.max_in_flight / 2;
}

bool Dispatcher::Loop::ShouldClaim() {
  if (claim_.busy || FreeCapacity() <= 0 || ClaimDeferred()) return false;
  const bool poked = poked_.exchange(false);
  return poked || last_claim_full_ || room_freed_ ||
         std::chrono::steady_clock::now() >= next_claim_at_;
}

// A claim on its way through the writer. Filled by the unit of work (on the writer thread), read
// by the loop once `done` hands it back.
struct Dispatcher::Loop::ClaimResult {
  core::Millis now = 0;
  core::Millis lease_until = 0;
  store::ClaimRoom room;
  config::SnapshotPtr snap;
  bool calls_loaded = false;  // in the unit (one node) rather than after it
  core::Result<void> status;
  std::vector<store::Delivery> claimed;
  std::vector<store::Id> waiting;  // accounts left for want of room
  bool more = false;               // an account could take more than the claim read of it
  std::unordered_map<std::string, std::shared_ptr<const engine::Call>> calls;  // by UUID
};

namespace {

// The calls of `claimed` not yet in `calls`, except those of deliveries `skip` says to skip.
template <typename Skip>
core::Result<void> LoadCalls(
    store::Reader& rd, const std::vector<store::Delivery>& claimed,
    std::unordered_map<std::string, std::shared_ptr<const engine::Call>>& calls, Skip skip) {
  for (const store::Delivery& delivery : claimed) {
    if (skip(delivery) || calls.count(delivery.call_uuid) != 0) continue;
    auto c = rd.FindCall(delivery.call_uuid);
    if (!c) return std::move(c).error();
    if (*c) calls.emplace(delivery.call_uuid, std::make_shared<const engine::Call>(std::move(**c)));
  }
  return {};
}

}  // namespace

void Dispatcher::Loop::StartClaim() {
  auto claim = std::make_shared<ClaimResult>();
  claim->snap = d_.config_.snapshot();
  if (claim->snap == nullptr) {  // configuration not loaded: nothing can be rendered yet
    next_claim_at_ = std::chrono::steady_clock::now() + d_.options_.poll;
    return;
  }
  d_.claiming_.store(true);
  room_freed_ = false;
  // Every account's room is what it does not hold of its share, and places are lent past it
  // while half stay free: one whose receivers hang, or whose backlog is long, leaves the rest
  // of the places to the others.
  claim->room.limit = FreeCapacity();
  claim->room.per_account = d_.options_.max_per_account;
  claim->room.held = d_.Places();
  claim->room.keep_free = d_.KeepFree();
  claim->now = d_.clock_.Now();
  claim->lease_until = claim->now + d_.options_.lease.count();
  // The calls of the claimed deliveries. On one node (SQLite) they are read in the claiming
  // unit, where the writer's cache holds the calls it just saved; on a shared database a
  // writer's read locks the call, so they are read after, in one read rather than one each.
  claim->calls_loaded = !d_.store_.shared();
  // Not waited for: the transfers on the wire go on while the claim commits (waiting for it
  // stalled them a third of the time under load).
  WriteInFlight<ClaimResult>(claim_, claim, [claim](store::Writer& w) -> core::Result<void> {
    claim->claimed.clear();  // the store may run a unit again
    claim->calls.clear();
    auto c = w.ClaimDueDeliveries(claim->now, claim->lease_until, claim->room);
    if (!c) return std::move(c).error();
    claim->claimed = std::move(c->deliveries);
    claim->waiting = std::move(c->waiting);
    claim->more = c->more;
    if (!claim->calls_loaded) return {};
    return LoadCalls(w, claim->claimed, claim->calls, [](const store::Delivery&) {
      return false;  // the loop's own jobs are its thread's: their calls are loaded too
    });
  });
}

template <typename T>
void Dispatcher::Loop::WriteInFlight(InFlight<T>& slot, std::shared_ptr<T> result,
                                     std::function<core::Result<void>(store::Writer&)> unit) {
  slot.busy = true;
  d_.store_.Write(std::move(unit), [this, &slot, result](core::Result<void> r) {
    result->status = std::move(r);
    {
      std::lock_guard lock(slot.mu);
      slot.done = result;
    }
    Wakeup();
  });
}

template <typename T>
std::shared_ptr<T> Dispatcher::Loop::TakeInFlight(InFlight<T>& slot) {
  std::shared_ptr<T> done;
  {
    std::lock_guard lock(slot.mu);
    done = std::move(slot.done);
  }
  if (done != nullptr) slot.busy = false;
  return done;
}

void Dispatcher::Loop::FinishClaim() {
  std::shared_ptr<ClaimResult> claim = TakeInFlight(claim_);
  if (claim == nullptr) return;
  if (!claim->status) {
    StoreError("claiming deliveries", claim->status.error());
    claim->claimed.clear();
    claim->waiting.clear();
    claim->more = false;
  }
  last_claim_full_ = static_cast<int>(claim->claimed.size()) >= claim->room.limit || claim->more;
  waiting_.clear();
  waiting_.insert(claim->waiting.begin(), claim->waiting.end());
  d_.accounts_waiting_.store(static_cast<int64_t>(waiting_.size()));
  d_.metrics_.RecordTaken(false, static_cast<int64_t>(claim->claimed.size()));
  core::Result<void> read;
  if (!claim->calls_loaded) {
    read = d_.store_.Read([&](store::Reader& rd) {
      // A delivery this loop still holds keeps its job, and the call in it: not needed.
      return LoadCalls(rd, claim->claimed, claim->calls,
                       [this](const store::Delivery& d) { return owned_.count(d.id) != 0; });
    });
  }
  if (!read) StoreError("loading calls", read.error());  // claimed again later
  for (store::Delivery& delivery : claim->claimed) {
    if (!read && owned_.count(delivery.id) == 0) continue;
    auto call = claim->calls.find(delivery.call_uuid);
    Prepare(std::move(delivery), call == claim->calls.end() ? nullptr : call->second, claim->snap,
            claim->lease_until);
  }
  d_.claiming_.store(false);
  if (!last_claim_full_) {
    // An account waiting for room has deliveries due: the store's next due time is now, and
    // would have the loop claim nothing every few milliseconds. Its freed places call the next
    // claim instead (Disown); new deliveries poke; the poll looks at the rest.
    next_claim_at_ =
        std::chrono::steady_clock::now() + (waiting_.empty() ? NextClaimDelay() : d_.options_.poll);
  }
}

void Dispatcher::Loop::TakeHanded() {
  std::vector<Handed> handed;
  {
    std::lock_guard lock(handed_mu_);
    handed.swap(handed_);
  }
  if (handed.empty()) return;
  config::SnapshotPtr snap = d_.config_.snapshot();
  for (Handed& h : handed) {
    const auto call = std::make_shared<const engine::Call>(std::move(h.call));
    for (store::Delivery& delivery : h.deliveries) {
      const store::Id account_id = delivery.account_id;
      // Stopping: let it go, its lease runs out (a restart of one node frees it at once).
      if (!d_.stop_.load() && snap != nullptr) {
        Prepare(std::move(delivery), call, snap, h.lease_until);
      }
      // Counted by Take and Reserve; Prepare counted it again if it queued it.
      d_.queued_.fetch_sub(1);
      d_.AddPlaces(account_id, -1);
    }
  }
}

const config::WebhookGroup* Dispatcher::Loop::GroupOf(const store::Delivery& delivery,
                                                      const config::Snapshot& snap,
                                                      std::string& error) {
  const auto group = snap.webhook_groups.find(delivery.group_id);
  if (group == snap.webhook_groups.end() || group->second.account_id != delivery.account_id ||
      delivery.request_index < 0 ||
      static_cast<size_t>(delivery.request_index) >= group->second.requests.size()) {
    error = "group_deleted";
    return nullptr;
  }
  if (!group->second.enabled) {
    error = "group_disabled";
    return nullptr;
  }
  return &group->second;
}

void Dispatcher::Loop::Prepare(store::Delivery delivery, std::shared_ptr<const engine::Call> call,
                               config::SnapshotPtr& snap, core::Millis lease_until) {
  Job* on_wire = nullptr;
  if (auto it = owned_.find(delivery.id); it != owned_.end()) {
    // Claimed again while still here: made due again by a resend, or its lease ran out. A queued
    // job now holds the new lease. One on the wire keeps its own, so that its verdict does not
    // decide the delivery (RecordAttempt), and the delivery goes again after it, under the new.
    Job* job = it->second;
    if (job->transfer == nullptr) {
      job->lease_until = lease_until;
      return;
    }
    if (job->next != nullptr) {
      job->next->lease_until = lease_until;
      return;
    }
    on_wire = job;
  }
  if (call == nullptr) return FailUnsent(delivery, lease_until, "call_deleted", delivery.url);
  if (snap->webhook_groups.count(delivery.group_id) == 0) {
    // Perhaps made on another node after this snapshot: look again before failing.
    if (auto r = d_.config_.ReloadIfChanged(); !r) {
      return StoreError("reloading configuration", r.error());  // claimed again later
    }
    snap = d_.config_.snapshot();
  }
  // Checked here too, so that a delivery that cannot be sent does not wait for a slot first;
  // Start looks again, and builds the request, as it sends it.
  std::string error;
  const config::WebhookGroup* group = GroupOf(delivery, *snap, error);
  if (group == nullptr) return FailUnsent(delivery, lease_until, error, delivery.url);
  // Only the URL for now, for the host whose slots the job waits for.
  std::string call_key = d_.keys_.Derive(call->uuid);
  auto url = RenderUrl(*call, *group, delivery.request_index, call_key, *snap);
  if (!url) return FailUnsent(delivery, lease_until, "group_deleted", delivery.url);  // unreached
  std::optional<std::string> host = HostKey(url->url);
  if (!host) return FailUnsent(delivery, lease_until, "bad_url", url->redacted_url);

  auto job = std::make_unique<Job>();
  job->delivery = std::move(delivery);
  job->call = std::move(call);
  job->lease_until = lease_until;
  job->host = std::move(*host);
  job->call_key = std::move(call_key);
  if (on_wire != nullptr) {
    on_wire->next = std::move(job);
    return;
  }
  Queue(std::move(job));
}

void Dispatcher::Loop::Queue(std::unique_ptr<Job> job) {
  renew_at_ = std::min(renew_at_, job->lease_until - d_.options_.lease.count() / 2);
  owned_[job->delivery.id] = job.get();
  d_.AddPlaces(job->delivery.account_id, 1);
  queues_[job->host].push_back(std::move(job));
  d_.queued_.fetch_add(1);
}

void Dispatcher::Loop::FailUnsent(const store::Delivery& delivery, core::Millis lease_until,
                                  const std::string& error, const std::string& url,
                                  core::Millis renewing_to) {
  LogEvent(spdlog::level::warn, "webhook delivery failed unsent", [&](core::JsonText& j) {
    j.Key("delivery").Int(delivery.id).Key("error").String(error).Key("url").String(url);
  });
  store::AttemptResult result;
  result.attempt.at = d_.clock_.Now();
  result.attempt.error = error;
  result.state = store::DeliveryState::kFailed;
  result.url = url;
  result.lease_until = lease_until;
  result.renewing_to = renewing_to;
  d_.metrics_.RecordAttempt(result.state, std::nullopt);
  d_.Record(delivery.id, std::move(result));
}

void Dispatcher::Loop::StartQueued() {
  // Again while a job moved to another host's queue (its URL changed), which may have slots
  // free and have been passed over already.
  for (bool moved = true; moved;) {
    moved = false;
    for (auto it = queues_.begin(); it != queues_.end();) {
      auto& queue = it->second;
      while (!queue.empty() && active_per_host_[it->first] < d_.options_.max_per_host) {
        if (d_.clock_.Now() + d_.options_.attempt_timeout.count() > queue.front()->lease_until) {
          // Could outlive its lease (R3): never started so. It keeps its place, and the rest of
          // its host's queue theirs, until FinishRenew renews the lease or lets it go.
          renew_due_ = true;
          break;
        }
        std::unique_ptr<Job> job = std::move(queue.front());
        queue.pop_front();
        if (!Start(std::move(job))) {
          moved = true;  // still queued, for another host
          continue;
        }
        // Only now: Start() counted the job in flight (or its failure as a pending write), so
        // WaitIdle never sees a claimed delivery neither queued nor in flight.
        d_.queued_.fetch_sub(1);
      }
      if (active_per_host_[it->first] == 0) active_per_host_.erase(it->first);
      it = queue.empty() ? queues_.erase(it) : std::next(it);
    }
  }
}

// A renewal on its way through the writer, like ClaimResult.
struct Dispatcher::Loop::RenewResult {
  core::Millis lease_until = 0;
  std::vector<store::HeldLease> held;
  core::Result<void> status;
  std::vector<store::Id> renewed;
};

void Dispatcher::Loop::RenewLeases() {
  // The fast path (jobs start as they come) never gets past this line: nothing is queued.
  if (renew_.busy || queues_.empty() || d_.stop_.load()) return;
  const core::Millis now = d_.clock_.Now();
  if (!renew_due_ && now < renew_at_) return;
  renew_due_ = false;
  // Half a lease ahead: at least attempt_timeout (the lease is at least twice that), so a job
  // whose lease is renewed in time never has to wait for it at the front of its queue.
  const core::Millis ahead = d_.options_.lease.count() / 2;
  auto renew = std::make_shared<RenewResult>();
  renew->lease_until = now + d_.options_.lease.count();
  renew_at_ = kNever;
  for (const auto& [host, queue] : queues_) {
    for (const auto& job : queue) {
      if (job->lease_until - ahead <= now) {
        renew->held.push_back(store::HeldLease{job->delivery.id, job->lease_until});
        job->renewing_to = renew->lease_until;
      } else {
        renew_at_ = std::min(renew_at_, job->lease_until - ahead);
      }
    }
  }
  if (renew->held.empty()) return;
  WriteInFlight<RenewResult>(renew_, renew, [renew](store::Writer& w) -> core::Result<void> {
    auto r = w.RenewDeliveryLeases(renew->held, renew->lease_until);
    if (!r) return std::move(r).error();
    renew->renewed = std::move(*r);  // the store may run a unit again: set, never added to
    return {};
  });
}

void Dispatcher::Loop::FinishRenew() {
  std::shared_ptr<RenewResult> renew = TakeInFlight(renew_);
  if (renew == nullptr) return;
  renew_due_ = true;  // jobs queued while it was under way may need one too
  if (!renew->status) {
    // Let them go as before renewals: claimed again once their leases run out. Trying again at
    // once would write at every turn while the store fails.
    StoreError("renewing leases", renew->status.error());
    renew->renewed.clear();
  }
  std::unordered_map<store::Id, core::Millis> held;
  for (const store::HeldLease& h : renew->held) held.emplace(h.delivery_id, h.until);
  const std::unordered_set<store::Id> renewed(renew->renewed.begin(), renew->renewed.end());
  // Only queued jobs: one started meanwhile was started under the lease it held.
  for (auto& [host, queue] : queues_) {
    for (auto it = queue.begin(); it != queue.end();) {
      Job& job = **it;
      const auto h = held.find(job.delivery.id);
      // Not in this renewal, or claimed again here since (under a lease of that claim).
      if (h == held.end() || h->second != job.lease_until) {
        ++it;
      } else if (renewed.count(job.delivery.id) != 0) {
        job.lease_until = renew->lease_until;
        ++it;
      } else {
        Disown(job.delivery);  // no longer ours: never sent from here
        it = queue.erase(it);
        d_.queued_.fetch_sub(1);
      }
    }
  }
}

bool Dispatcher::Loop::Start(std::unique_ptr<Job> job) {
  // The group as it is now: a job may have waited in its queue for many answers of a slow host
  // (its lease renewed meanwhile), and a group disabled, deleted or fixed meanwhile is so for
  // it too; its webhook-timestamp and signature are of this moment, which a receiver's replay
  // tolerance is counted from.
  const config::SnapshotPtr snap = d_.config_.snapshot();
  const core::Millis now = d_.clock_.Now();
  const store::Delivery& delivery = job->delivery;
  const auto fail = [&](const std::string& error, const std::string& url) {
    Disown(delivery);
    FailUnsent(delivery, job->lease_until, error, url, job->renewing_to);
    return true;
  };
  std::string error;
  const config::WebhookGroup* group = GroupOf(delivery, *snap, error);
  if (group == nullptr) return fail(error, delivery.url);
  auto request = BuildRequest(*job->call, *group, delivery.request_index, job->call_key,
                              delivery.webhook_id, now, *snap);
  if (!request) {
    LogEvent(spdlog::level::warn, "webhook request not built", [&](core::JsonText& j) {
      j.Key("delivery").Int(delivery.id).Key("error").String(request.error().message);
    });
    return fail("bad_config", delivery.url);
  }
  std::optional<std::string> host = HostKey(request->url);
  if (!host) return fail("bad_url", request->redacted_url);
  if (*host != job->host) {
    // The URL was changed to another host's while the job waited for a slot of the old one:
    // it waits for the new host's slots instead, at the back of its queue (still queued and
    // owned, under its lease), so that no host gets more than its slots. Its request is built
    // again when its turn comes there.
    job->host = std::move(*host);
    auto& queue = queues_[job->host];
    queue.push_back(std::move(job));
    return false;
  }
  job->attempt_at = now;
  job->redacted_url = request->redacted_url;
  CURL* reuse = nullptr;
  if (!idle_handles_.empty()) {
    reuse = idle_handles_.back();
    idle_handles_.pop_back();
  }
  auto transfer = Transfer::Create(std::move(*request), transfer_options_, reuse);
  if (!transfer) {
    LogEvent(spdlog::level::err, "webhook transfer not started", [&](core::JsonText& j) {
      j.Key("delivery").Int(job->delivery.id).Key("error").String(transfer.error().message);
    });
    TransferResult failed;
    failed.error = "transport";
    Complete(std::move(job), failed);
    return true;
  }
  CURL* easy = (*transfer)->handle();
  job->transfer = std::move(*transfer);
  if (curl_multi_add_handle(multi_, easy) != CURLM_OK) {
    TransferResult failed;
    failed.error = "transport";
    Complete(std::move(job), failed);
    return true;
  }
  ++active_per_host_[job->host];
  d_.in_flight_.fetch_add(1);
  active_.emplace(easy, std::move(job));
  return true;
}

void Dispatcher::Loop::Reap() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* const easy = msg->easy_handle;
    const CURLcode code = msg->data.result;  // msg dies with curl_multi_remove_handle
    auto node = active_.extract(easy);
    curl_multi_remove_handle(multi_, easy);
    if (node.empty()) continue;
    std::unique_ptr<Job> job = std::move(node.mapped());
    --active_per_host_[job->host];
    const TransferResult result = job->transfer->Finish(code);
    // At most one idle handle per request that may be in flight.
    if (idle_handles_.size() < static_cast<size_t>(d_.options_.max_in_flight)) {
      idle_handles_.push_back(job->transfer->Release());
    }
    Complete(std::move(job), result);
    d_.in_flight_.fetch_sub(1);  // after Record() counted the write: WaitIdle sees no gap
  }
}

void Dispatcher::Loop::Complete(std::unique_ptr<Job> job, const TransferResult& r) {
  const core::Millis now = d_.clock_.Now();
  store::AttemptResult result;
  result.attempt.at = job->attempt_at;
  result.attempt.http_status = r.http_status;
  result.attempt.latency_ms = r.latency_ms;
  result.attempt.error = r.error;
  result.attempt.response_excerpt = ScrubKey(r.excerpt, job->call_key, kRedactedKey);
  result.url = job->redacted_url;
  result.lease_until = job->lease_until;
  result.renewing_to = job->renewing_to;
  Verdict verdict;
  if (r.error == "bad_url") {
    verdict.state = store::DeliveryState::kFailed;  // the same URL will not parse next time
  } else if (r.error == "refused_address" && RefusedForGood(job->host)) {
    verdict.state = store::DeliveryState::kFailed;  // and would be refused at every retry
  } else {
    std::optional<int64_t> retry_after;
    if (r.retry_after) retry_after = ParseRetryAfter(*r.retry_after, now);
    verdict =
        Decide(job->delivery.attempt_count + 1, r.http_status, retry_after, now, d_.random_());
  }
  result.state = verdict.state;
  result.next_attempt_at = verdict.next_attempt_at;
  d_.metrics_.RecordAttempt(verdict.state, static_cast<double>(r.latency_ms) / 1000.0);

  const auto level = verdict.state == store::DeliveryState::kFailed || !r.detail.empty()
                         ? spdlog::level::warn
                         : spdlog::level::debug;
  LogEvent(level, "webhook attempt", [&](core::JsonText& j) {
    j.Key("delivery").Int(job->delivery.id).Key("attempt").Int(job->delivery.attempt_count + 1);
    j.Key("status").OptionalInt(r.http_status).Key("error").String(r.error);
    if (!r.detail.empty()) j.Key("detail").String(r.detail);
    j.Key("outcome").String(OutcomeName(verdict.state)).Key("ms").Int(r.latency_ms);
    j.Key("url").String(job->redacted_url);
  });
  Disown(job->delivery);
  d_.Record(job->delivery.id, std::move(result));
  if (job->next != nullptr) Queue(std::move(job->next));
}

void Dispatcher::Loop::DropQueued() {
  for (auto& [host, queue] : queues_) {
    for (auto& job : queue) Disown(job->delivery);
    d_.queued_.fetch_sub(static_cast<int64_t>(queue.size()));
  }
  queues_.clear();
}

void Dispatcher::Loop::Disown(const store::Delivery& delivery) {
  owned_.erase(delivery.id);
  const int held = d_.AddPlaces(delivery.account_id, -1);
  // Claimed again in batches, as the claims of the whole loop are (ClaimDeferred): once the
  // account has room, its own or lent, for as many as it still holds, and for half its share.
  const int room =
      std::max(d_.options_.max_per_account - held, 0) + std::max(FreeCapacity() - d_.KeepFree(), 0);
  if (room >= std::max({held, d_.options_.max_per_account / 2, 1}) &&
      waiting_.count(delivery.account_id) != 0) {
    waiting_.erase(delivery.account_id);
    d_.accounts_waiting_.store(static_cast<int64_t>(waiting_.size()));
    room_freed_ = true;
  }
}

std::chrono::milliseconds Dispatcher::Loop::NextClaimDelay() {
  const std::chrono::milliseconds poll = d_.options_.poll;
  std::optional<core::Millis> due;
  const core::Result<void> r = d_.store_.Read([&](store::Reader& rd) -> core::Result<void> {
    auto next = rd.NextDeliveryDue();
    if (!next) return std::move(next).error();
    due = *next;
    return {};
  });
  if (!r) StoreError("reading the outbox", r.error());
  if (!r || !due) return poll;
  const std::chrono::milliseconds wait(*due - d_.clock_.Now());
  return std::clamp(wait, kMinWait, std::max(poll, kMinWait));
}

int Dispatcher::Loop::WaitMillis() {
  using std::chrono::milliseconds;
  const milliseconds poll = d_.options_.poll;
  if (d_.stop_.load() || claim_.busy || FreeCapacity() <= 0 || ClaimDeferred()) {
    return static_cast<int>(poll.count());  // a finished transfer or claim wakes the poll
  }
  if (last_claim_full_ || room_freed_ || poked_.load()) return 0;
  const auto until_claim =
      std::chrono::duration_cast<milliseconds>(next_claim_at_ - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp(until_claim, milliseconds(0), poll).count());
}

void Dispatcher::Loop::StoreError(const char* what, const core::Error& error) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_store_error_ < kStoreErrorLogInterval) return;
  last_store_error_ = now;
  LogEvent(spdlog::level::warn, "webhooks: store error", [&](core::JsonText& j) {
    j.Key("while").String(what).Key("error").String(error.message);
  });
}

}  // namespace webhook
