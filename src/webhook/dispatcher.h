// The webhook dispatcher: claims due deliveries from the store's outbox, sends each as an HTTP
// request (libcurl multi, one thread), and records every attempt with its verdict (retry.h).
// At least once (R3): a delivery is leased while it is sent and recorded after; should the
// process die in between, the lease runs out and the delivery is sent again with the same
// webhook-id.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "core/call_key.h"
#include "core/time.h"
#include "service/call_service.h"
#include "service/config_service.h"
#include "store/store.h"
#include "webhook/metrics.h"

namespace webhook {

struct DispatcherOptions {
  int max_in_flight = 512;  // deliveries claimed and not yet finished (sending or queued)
  int max_per_host = 16;    // concurrent requests (and connections) per host:port
  // Of max_in_flight, the share of one account (places sending, queued or reserved): past it,
  // an account takes a place only while half of max_in_flight stays free. So an account whose
  // receivers hang, or whose backlog is long, leaves places for the others, and an account
  // alone is not held to its share.
  int max_per_account = 64;
  bool allow_private = false;  // let webhooks reach loopback/private addresses (R6 off)
  std::chrono::milliseconds attempt_timeout{15000};
  std::chrono::milliseconds connect_timeout{5000};
  size_t max_response_bytes = 1 << 16;
  size_t excerpt_bytes = 1024;
  // How long a claim holds a delivery; at least twice attempt_timeout (raised if less). An
  // attempt starts only while its lease outlasts it. A delivery waiting for a slot of its host
  // has its lease renewed in the store (one write for every queued delivery whose lease ends
  // within half a lease) rather than waiting for it to run out; one whose lease is no longer
  // this node's (another claimed it after the lease ran out) is let go unsent.
  std::chrono::milliseconds lease{60000};
  std::chrono::milliseconds poll{200};  // the longest wait between two looks at the outbox
};

// Thread-safe: every public method may be called from any thread. The store, configuration
// service, keys and clock must outlive the dispatcher; `random` is called on the dispatcher's
// thread only (jitter of retry times).
//
// Two ways in: the call service hands over the deliveries a unit of work made, straight after
// its commit, while there is room (service::DeliverySink: the unit inserts them already leased,
// so that no claim takes them too, and the dispatcher has the call they render from); the
// rest (retries, deliveries made while the dispatcher was full or on another node) are claimed
// from the outbox.
class Dispatcher : public service::DeliverySink {
 public:
  Dispatcher(DispatcherOptions options, store::Store& store, service::ConfigService& config,
             const core::CallKeys& keys, const core::Clock& clock,
             std::function<uint64_t()> random);
  // Stops (see Stop) if running.
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Starts the sending thread. Call once.
  void Start();
  // Stops claiming, drops claimed deliveries not yet sent (their lease runs out), waits for
  // the requests on the wire (bounded by attempt_timeout) and for their records to be written,
  // then joins. Idempotent.
  void Stop();
  // Looks at the outbox now (call after new deliveries are committed). Cheap; never blocks.
  void Notify() override;
  // service::DeliverySink: room for `n` more is reserved while there is some and the
  // dispatcher runs (the lease to insert them under), given back by Release, and used by Take,
  // which queues the deliveries (dropped if the dispatcher has stopped: their lease runs out).
  std::optional<core::Millis> Reserve(store::Id account_id, int n) override;
  void Release(store::Id account_id, int n) override;
  void Take(std::vector<store::Delivery> deliveries, engine::Call call,
            core::Millis lease_until) override;
  // For tests: true once nothing is reserved, being sent or queued, no record is being written
  // and no delivery is due at clock.Now() (per the store); false when `timeout` passes first.
  bool WaitIdle(std::chrono::milliseconds timeout);
  // Appends the dispatcher's metrics in Prometheus text format.
  void RenderMetrics(std::string& out) const;

 private:
  struct Job;
  class Loop;

  // Records an attempt asynchronously; counted in pending_writes_ until it is durable.
  void Record(store::Id delivery_id, store::AttemptResult result);
  // Counts `n` more places (fewer when negative) held for an account; returns how many it holds.
  int AddPlaces(store::Id account_id, int n);
  // The places every account holds, for a claim.
  std::unordered_map<store::Id, int> Places() const;
  // The places an account past its share must leave free to be lent one: half of them.
  int KeepFree() const { return options_.max_in_flight / 2; }

  // Immutable after construction.
  const DispatcherOptions options_;
  store::Store& store_;
  service::ConfigService& config_;
  const core::CallKeys& keys_;
  const core::Clock& clock_;
  const std::function<uint64_t()> random_;
  Metrics metrics_;

  // The sending thread's state (libcurl multi handle, jobs); created with the dispatcher so
  // that Notify() works before Start(); touched by the sending thread alone, but for wakeups.
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};  // started and not stopping: takes hand-overs
  std::atomic<int64_t> reserved_{0};  // room promised to units of work not yet settled
  // Progress counters read by WaitIdle and the metrics.
  std::atomic<bool> claiming_{false};         // between claiming and queueing the claimed
  std::atomic<int64_t> in_flight_{0};         // requests on the wire
  std::atomic<int64_t> queued_{0};            // claimed, waiting for a per-host slot
  std::atomic<int64_t> accounts_waiting_{0};  // with due deliveries past their share

  // Places held per account (max_per_account): reserved by units of work, queued or on the wire.
  // Reserve and Release run on store threads, the jobs' own on the sending thread.
  mutable std::mutex places_mu_;
  std::unordered_map<store::Id, int> places_;  // guarded by places_mu_; never a zero

  std::mutex mu_;
  std::condition_variable cv_;
  int64_t pending_writes_ = 0;  // guarded by mu_
};

}  // namespace webhook
