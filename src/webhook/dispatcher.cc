#include "webhook/dispatcher.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "webhook/log_event.h"
#include "webhook/loop.h"

namespace webhook {
namespace {

// Options that cannot work are raised to the least that can.
DispatcherOptions Sanitized(DispatcherOptions o) {
  using std::chrono::milliseconds;
  o.max_in_flight = std::max(o.max_in_flight, 1);
  o.max_per_host = std::clamp(o.max_per_host, 1, o.max_in_flight);
  o.max_per_account = std::clamp(o.max_per_account, 1, o.max_in_flight);
  o.attempt_timeout = std::max(o.attempt_timeout, milliseconds(1));
  o.connect_timeout = std::clamp(o.connect_timeout, milliseconds(1), o.attempt_timeout);
  // A job starts only while its lease outlasts the attempt; the lease must leave room for it.
  o.lease = std::max(o.lease, 2 * o.attempt_timeout);
  o.poll = std::max(o.poll, milliseconds(1));
  return o;
}

}  // namespace

Dispatcher::Dispatcher(DispatcherOptions options, store::Store& store,
                       service::ConfigService& config, const core::CallKeys& keys,
                       const core::Clock& clock, std::function<uint64_t()> random)
    : options_(Sanitized(std::move(options))),
      store_(store),
      config_(config),
      keys_(keys),
      clock_(clock),
      random_(std::move(random)) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  loop_ = std::make_unique<Loop>(*this);
}

Dispatcher::~Dispatcher() {
  Stop();
  loop_.reset();
  curl_global_cleanup();
}

void Dispatcher::Start() {
  if (thread_.joinable() || stop_.load()) return;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "webhooks");  // for top -H and perf
    loop_->Run();
  });
  running_.store(true);
}

void Dispatcher::Stop() {
  running_.store(false);
  stop_.store(true);
  loop_->Wakeup();
  if (thread_.joinable()) thread_.join();
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return pending_writes_ == 0; });
}

void Dispatcher::Notify() { loop_->Poke(); }

std::optional<core::Millis> Dispatcher::Reserve(store::Id account_id, int n) {
  if (!running_.load()) return std::nullopt;
  // The room the claims leave: a claim racing this may take its share too, so the bounds (on
  // memory and on each account's share, not correctness) can be passed by one claim's worth.
  const int64_t used = in_flight_.load() + queued_.load() + reserved_.load();
  if (used + n > options_.max_in_flight) return std::nullopt;
  {
    std::lock_guard lock(places_mu_);
    int& held = places_[account_id];
    // Within its share, or lent while half of the places stay free.
    if (held + n > options_.max_per_account && options_.max_in_flight - (used + n) < KeepFree()) {
      if (held == 0) places_.erase(account_id);
      return std::nullopt;
    }
    held += n;
  }
  reserved_.fetch_add(n);
  return clock_.Now() + options_.lease.count();
}

void Dispatcher::Release(store::Id account_id, int n) {
  AddPlaces(account_id, -n);
  reserved_.fetch_sub(n);
}

int Dispatcher::AddPlaces(store::Id account_id, int n) {
  std::lock_guard lock(places_mu_);
  auto it = places_.try_emplace(account_id, 0).first;
  it->second += n;
  const int held = it->second;
  if (held <= 0) places_.erase(it);
  return held;
}

std::unordered_map<store::Id, int> Dispatcher::Places() const {
  std::lock_guard lock(places_mu_);
  return places_;
}

void Dispatcher::Take(std::vector<store::Delivery> deliveries, engine::Call call,
                      core::Millis lease_until) {
  const auto n = static_cast<int64_t>(deliveries.size());
  queued_.fetch_add(n);  // before the reservation ends: WaitIdle never sees a gap
  reserved_.fetch_sub(n);
  metrics_.RecordTaken(true, n);
  loop_->Hand(std::move(deliveries), std::move(call), lease_until);
}

bool Dispatcher::WaitIdle(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    // The store first, then the counters: a delivery leaves the store's "due" only once it is
    // claimed, and it is counted before claiming_ drops, so no delivery slips between.
    std::optional<core::Millis> due;
    const core::Result<void> r = store_.Read([&](store::Reader& rd) -> core::Result<void> {
      auto next = rd.NextDeliveryDue();
      if (!next) return std::move(next).error();
      due = *next;
      return {};
    });
    bool idle = r && !(due && *due <= clock_.Now()) && !claiming_.load() && reserved_.load() == 0 &&
                in_flight_.load() == 0 && queued_.load() == 0;
    if (idle) {
      std::lock_guard lock(mu_);
      idle = pending_writes_ == 0;
    }
    if (idle) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void Dispatcher::RenderMetrics(std::string& out) const {
  metrics_.Render(out, in_flight_.load(), queued_.load(), accounts_waiting_.load());
}

void Dispatcher::Record(store::Id delivery_id, store::AttemptResult result) {
  {
    std::lock_guard lock(mu_);
    ++pending_writes_;
  }
  store_.Write(
      [delivery_id, result = std::move(result)](store::Writer& w) {
        return w.RecordAttempt(delivery_id, result);
      },
      [this, delivery_id](core::Result<void> r) {
        // On error the lease runs out and the delivery is sent again (at least once).
        if (!r) {
          LogEvent(spdlog::level::warn, "webhook attempt not recorded", [&](core::JsonText& j) {
            j.Key("delivery").Int(delivery_id).Key("error").String(r.error().message);
          });
        }
        std::lock_guard lock(mu_);
        --pending_writes_;
        cv_.notify_all();
      });
}

}  // namespace webhook
