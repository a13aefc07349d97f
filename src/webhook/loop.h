// Internal to the dispatcher: the state and steps of its sending thread.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/snapshot.h"
#include "webhook/dispatcher.h"
#include "webhook/request.h"
#include "webhook/transfer.h"

namespace webhook {

// One claimed delivery, from its claim until its attempt is recorded. Its request is built only
// as it is sent (Start), from the configuration of that moment.
struct Dispatcher::Job {
  store::Delivery delivery;
  // The call it renders from, as read at the claim (or handed over with the delivery); shared
  // by the deliveries of one call.
  std::shared_ptr<const engine::Call> call;
  core::Millis lease_until = 0;
  core::Millis renewing_to = 0;        // the lease the last renewal asked for, until it is known
  std::string host;                    // HostKey of the URL: of the queue it waits in, then as sent
  std::string redacted_url;            // of the request sent
  std::string call_key;                // derived once; kept to scrub it from the response excerpt
  std::unique_ptr<Transfer> transfer;  // while on the wire
  core::Millis attempt_at = 0;
  // The same delivery, claimed again while this attempt was on the wire (an operator's resend):
  // queued once this attempt is recorded, under the lease of that claim.
  std::unique_ptr<Job> next;
};

// Not thread-safe, but for Wakeup() and Poke(): Run() and everything it calls belong to the sending
// thread.
class Dispatcher::Loop {
 public:
  explicit Loop(Dispatcher& d);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Interrupts the wait of Run(). Thread-safe.
  void Wakeup();
  // Wakeup(), and claim at the next chance: deliveries may be due. Thread-safe.
  void Poke();
  // Queues deliveries handed over at their commit, already counted in queued_ (the loop
  // prepares them at its next turn). Thread-safe.
  void Hand(std::vector<store::Delivery> deliveries, engine::Call call, core::Millis lease_until);
  // Sends until the dispatcher stops and nothing is on the wire any more.
  void Run();

 private:
  // Whether to look at the outbox in this round: poked, a full claim last time (more may be
  // due), or its due time reached; never without free capacity.
  bool ShouldClaim();
  // Whether to put the next claim off: plenty queued, little capacity free.
  bool ClaimDeferred() const;
  // A write of the loop's own (a claim, a renewal) on its way through the writer: the loop does
  // not wait for it. The writer's thread hands the result (T, with a `status`) back and wakes
  // the loop, which takes it on its next turn. At most one of each kind at a time.
  template <typename T>
  struct InFlight {
    bool busy = false;  // the loop's thread only
    std::mutex mu;
    std::shared_ptr<T> done;  // guarded by mu; set on a store thread
  };
  template <typename T>
  void WriteInFlight(InFlight<T>& slot, std::shared_ptr<T> result,
                     std::function<core::Result<void>(store::Writer&)> unit);
  // The result handed back, if any (then the slot is free again).
  template <typename T>
  std::shared_ptr<T> TakeInFlight(InFlight<T>& slot);
  // Claims up to the free capacity: a unit of work the loop does not wait for. FinishClaim, once
  // the unit has committed, queues what it claimed and plans the next claim.
  struct ClaimResult;
  void StartClaim();
  void FinishClaim();
  // Renews, in one write the loop does not wait for, the leases of the queued jobs that end
  // within half a lease (or that a job waits for at the front of its queue), so that no job
  // queued here waits for its own lease to run out. FinishRenew, once the write is durable,
  // moves the renewed jobs' leases on and lets go of the others: their lease is no longer ours
  // (another sender claimed the delivery after it ran out) or the write failed.
  struct RenewResult;
  void RenewLeases();
  void FinishRenew();
  // Prepares the deliveries handed over since the last turn.
  void TakeHanded();
  // Queues one claimed delivery for its call (null: the call is gone) in the queue of its URL's
  // host, or records why it cannot be sent. May refresh `snap` (a group created on another
  // node). Its request is built by Start.
  void Prepare(store::Delivery delivery, std::shared_ptr<const engine::Call> call,
               config::SnapshotPtr& snap, core::Millis lease_until);
  // The group `delivery` renders from in `snap`; null when it cannot be sent, with `error` set
  // to why (group_deleted, group_disabled).
  static const config::WebhookGroup* GroupOf(const store::Delivery& delivery,
                                             const config::Snapshot& snap, std::string& error);
  // Queues a prepared job for its host, as this dispatcher's own.
  void Queue(std::unique_ptr<Job> job);
  // Records a final failure of a delivery that was never sent.
  void FailUnsent(const store::Delivery& delivery, core::Millis lease_until,
                  const std::string& error, const std::string& url, core::Millis renewing_to = 0);
  // Starts queued jobs while their host has free slots; a job whose lease could end during its
  // attempt is not started but waits, at the front of its queue, for the lease to be renewed.
  void StartQueued();
  // Builds the request of a job taken off its queue, from its group as the configuration holds
  // it now and with the time now (webhook-timestamp, signature), and puts it on the wire; or
  // records why it cannot be sent (the group deleted or disabled meanwhile). False when the
  // URL now names another host: the job was queued for that host's slots instead.
  bool Start(std::unique_ptr<Job> job);
  // Takes finished transfers off the multi handle and completes them.
  void Reap();
  // Decides and records the attempt of a job.
  void Complete(std::unique_ptr<Job> job, const TransferResult& result);
  // Forgets every queued job (their leases run out).
  void DropQueued();
  // Forgets a job: its delivery is no longer this loop's, and its account's place is free.
  void Disown(const store::Delivery& delivery);
  // How long until the next delivery is due per the store, within [10 ms, poll].
  std::chrono::milliseconds NextClaimDelay();
  // How long the next wait may last.
  int WaitMillis();
  int FreeCapacity() const;
  // Logs a store error at most every few seconds.
  void StoreError(const char* what, const core::Error& error);

  Dispatcher& d_;
  const TransferOptions transfer_options_;
  CURLM* const multi_;
  std::map<std::string, std::deque<std::unique_ptr<Job>>> queues_;  // by host
  std::map<std::string, int> active_per_host_;
  std::unordered_map<CURL*, std::unique_ptr<Job>> active_;
  std::vector<CURL*> idle_handles_;  // easy handles of finished transfers, for the next ones
  std::unordered_map<store::Id, Job*> owned_;  // every queued or active job by delivery id
  std::atomic<bool> poked_{true};
  InFlight<ClaimResult> claim_;
  struct Handed {
    std::vector<store::Delivery> deliveries;
    engine::Call call;
    core::Millis lease_until = 0;
  };
  std::mutex handed_mu_;
  std::vector<Handed> handed_;  // guarded by handed_mu_; filled on store threads
  InFlight<RenewResult> renew_;
  // Look at the leases at the next chance: a job waits for its own, or a renewal just ended.
  bool renew_due_ = false;
  core::Millis renew_at_ = 0;  // when a queued job's lease may next need renewing (never later)
  bool last_claim_full_ = false;
  // Accounts the last claim left due deliveries of for want of their room, and whether one of
  // them has since had enough freed to be worth a claim (Disown).
  std::unordered_set<store::Id> waiting_;
  bool room_freed_ = false;
  std::chrono::steady_clock::time_point next_claim_at_{};
  std::chrono::steady_clock::time_point last_store_error_{};
};

}  // namespace webhook
