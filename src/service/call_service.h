// Calls: starting them, events from the edge, buyer postbacks, postback deadlines and reads.
// Each change is one unit of work on the store's writer: the call is loaded, the pure engine
// applies the change, and the call with its tags, effects and deadline is saved in the same
// transaction. Results arrive through callbacks after the commit is durable.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/call_key.h"
#include "core/histogram.h"
#include "core/time.h"
#include "engine/engine.h"
#include "service/config_service.h"
#include "store/store.h"

namespace service {

template <typename T>
using Callback = std::function<void(core::Result<T>)>;

// Where the webhook deliveries a unit of work plans go once it has committed: the webhook
// dispatcher. Every method is quick and may be called on any thread (a store's).
class DeliverySink {
 public:
  virtual ~DeliverySink() = default;
  // Asked by a unit of work before it inserts `n` deliveries due now for a call of
  // `account_id`: the lease to insert them under when the sink has room to take them straight
  // after the commit (Take), so that no claim hands them out as well; nullopt when it has not
  // (in all, or for that account): they are inserted free, for a claim (Notify). A reservation
  // ends with Take, or with Release when the unit does not commit.
  virtual std::optional<core::Millis> Reserve(store::Id account_id, int n) = 0;
  virtual void Release(store::Id account_id, int n) = 0;
  // After the commit: the reserved deliveries (inserted under `lease_until`) and their call as
  // the unit saved it.
  virtual void Take(std::vector<store::Delivery> deliveries, engine::Call call,
                    core::Millis lease_until) = 0;
  // After a commit that inserted deliveries for a claim (or made one due again).
  virtual void Notify() = 0;
};

struct StartRequest {
  std::optional<std::string> number;  // tracking number dialed (E.164), or
  std::optional<Id> campaign_id;      // the campaign directly
  std::string caller_number;
  std::optional<Id> publisher_id;
  engine::Params tags;
  bool route = false;
  // Route only to buyers with a sip:/sips: address (the SIP edge's lookup).
  bool sip_only = false;
  std::optional<core::Millis> at;
  // The edge's id for the call: a repeated start with the same id answers the call it made
  // (Started::existing) instead of making another.
  std::string edge_call_id;
};

struct Started {
  engine::Call call;  // its key: CallService::KeyOf (derived where the answer is built)
  std::optional<config::Buyer> buyer;  // when routed
  bool existing = false;               // a repeated start (same edge_call_id)
};

struct PostbackRequest {
  std::string uuid;  // as received; validated here
  std::optional<std::string> key;
  // Whether `key` is the call key of the call `uuid` names, when the caller has checked it
  // (KeyMatches on the canonical UUID, for its rate limit): the key's HMAC is not computed a
  // second time. Empty: checked here.
  std::optional<bool> key_matches;
  std::string method;
  engine::Params params;  // without the key
  // Set when the request could not be parsed: it is refused with 400 and this reason, and
  // logged with the call when the call exists.
  std::optional<std::string> malformed;
};

// A postback's answer. http_status is 200 for accepted postbacks and the refusal's status
// otherwise (the refusal is logged with the call all the same).
struct PostbackAnswer {
  int http_status = 200;
  std::string message;  // status sentence, or the refusal reason
  // The call's UUID and conversion after the postback (not the whole call: its tags, which
  // grow with every postback, would be carried to the answer's thread to be freed there).
  std::string call_uuid;
  engine::Conversion conversion;
  engine::Params tag_values;
  // Written to the call's postback log: false for a refusal past kMaxRefusedPostbacksLogged.
  bool logged = true;
};

// The call's postback log keeps every accepted postback and at most this many refused ones
// (anyone who knows a call's UUID can send refusals, as fast as they like); later refusals are
// answered as before but not logged. Each entry keeps at most engine::kMaxTagsPerRequest
// parameters, each name and value cut to engine::kMaxTagBytes (LogParams).
inline constexpr int64_t kMaxRefusedPostbacksLogged = 100;
// A call's details show its newest postbacks, at most this many.
inline constexpr int kMaxPostbacksShown = 200;

// A publisher's data-writing request.
struct DataWritingRequest {
  std::string key;  // the publisher postback key from the path
  // `key` as the caller looked it up (ConfigService::FindPublisherKey, for its rate limit), so
  // that it is not looked up a second time. Unset: looked up here.
  std::optional<PublisherKeyLookup> lookup;
  std::optional<std::string> caller_number;  // as received; normalised here
  std::optional<std::string> call_uuid;
  engine::Params tags;
  std::optional<std::string> malformed;  // the request could not be parsed: refuse with 400
};

struct DataWritingAnswer {
  int http_status = 200;
  std::string message;  // status sentence or refusal reason
  engine::Params tag_values;
  std::string caller_number;  // when stored
  std::string call_uuid;      // when applied to a call
};

// How long after a call ends data writing still applies to it (rather than storing the tags
// for the caller's next call).
inline constexpr int64_t kDataWritingCutoffSeconds = 3600;

// A call with what the operator sees beside it.
struct CallDetails {
  engine::Call call;
  std::vector<store::PostbackLog> postbacks;  // the newest kMaxPostbacksShown, oldest first
  int64_t postbacks_total = 0;                // how many the call's log holds
  std::vector<store::EffectRow> effects;
  std::vector<store::Delivery> deliveries;  // oldest first
};

class CallService {
 public:
  // `random` feeds the router's weighted choice.
  CallService(store::Store& store, ConfigService& config, const core::Clock& clock,
              const core::CallKeys& keys, std::function<uint64_t()> random);

  void Start(Id account_id, StartRequest request, Callback<Started> done);
  void ApplyEvent(Id account_id, std::string uuid, engine::Event event,
                  Callback<engine::Call> done);
  // Never fails with an error for refusals (see PostbackAnswer); errors are store failures.
  void Postback(PostbackRequest request, Callback<PostbackAnswer> done);

  // Publisher data writing: applies the tags to the caller's call in progress or just ended
  // (or to call_uuid), else stores them for the caller's next call. Refusals are answers
  // (401 unknown key, 403 paused, 400 bad input, 404 unknown call_uuid), errors are store
  // failures.
  void DataWriting(DataWritingRequest request, Callback<DataWritingAnswer> done);
  // Ends calls still open `max_call_seconds` after they started (their end was lost, say an
  // edge restarted), so their conversion wait starts; returns how many.
  core::Result<int> CloseStaleCalls(core::Millis now, int64_t max_call_seconds);
  // Drops stored data-writing tags past their storage duration.
  core::Result<int64_t> SweepPrecallTags(core::Millis now);

  // Decides every postback deadline due at `now` (at most `limit`); returns how many calls
  // changed. Called by the deadline scheduler, and by tests with a fake clock.
  // Claims due deadlines under a lease of `lease` ms (another node takes them over when it
  // runs out) and decides their calls.
  core::Result<int> FireDueDeadlines(core::Millis now, int limit = 1000,
                                     core::Millis lease = 60000);

  core::Result<CallDetails> Get(Id account_id, std::string_view uuid);
  core::Result<std::vector<engine::Call>> List(const store::CallFilter& filter);
  // The call a call key opens (buyer view): 404 unknown, 401 wrong key, 410 expired.
  core::Result<engine::Call> GetWithKey(std::string_view uuid, std::string_view key);

  std::string KeyOf(const engine::Call& call) const { return keys_.Derive(call.uuid); }
  // Whether `key` is the call key of the call `uuid` (canonical, as core::NormalizeUuid writes
  // it; known or not; constant time).
  bool KeyMatches(std::string_view uuid, std::string_view key) const {
    return keys_.Verify(uuid, key);
  }

  // Where committed webhook deliveries go (see DeliverySink). Set once before serving; it must
  // outlive the units of work.
  void SetDeliverySink(DeliverySink* sink) { sink_ = sink; }

  // The account's webhook deliveries (newest first, with attempts), and a resend.
  core::Result<std::vector<store::Delivery>> ListDeliveries(const store::DeliveryFilter& filter);
  core::Result<store::Delivery> GetDelivery(Id account_id, Id id);
  core::Result<store::Delivery> ResendDelivery(Id account_id, Id id);
  // When the call's key stops working (ended_at + the account's TTL), if it has ended.
  std::optional<core::Millis> KeyExpiry(const engine::Call& call) const;

  // The call metrics (Prometheus text) appended to `out`: this node's own always (the lag of
  // the deadlines it fired, refused postbacks not logged), then, when `with_store`, the postback
  // deadlines pending and due, read from the store (every node's): its error when it cannot.
  core::Result<void> RenderMetrics(std::string& out, bool with_store);

 private:
  // One engine step on each call (by UUID) in one unit of work; returns how many changed. When
  // the unit fails, each call is stepped in a unit of its own, so one call that fails holds up
  // no other; the first such call's error is returned then, after the others are done.
  using Step = std::function<core::Result<engine::Outcome>(engine::Call&, const engine::Context&)>;
  core::Result<int> StepEach(std::vector<std::string> uuids, core::Millis now, const Step& step);

  store::Store& store_;
  ConfigService& config_;
  const core::Clock& clock_;
  const core::CallKeys& keys_;
  std::function<uint64_t()> random_;
  DeliverySink* sink_ = nullptr;

  std::mutex metrics_mu_;
  // Seconds from a deadline's due time to its decision; guarded by metrics_mu_.
  core::Histogram timer_lag_{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
  // Refused postbacks answered but not logged (past kMaxRefusedPostbacksLogged).
  std::atomic<uint64_t> refusals_not_logged_{0};
};

}  // namespace service
