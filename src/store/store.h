// The store: everything callpost keeps, behind one interface that the embedded SQLite store
// and the PostgreSQL store (several nodes on one database) implement. Writes run as units of work
// on the store's writer, which commits them in groups; a unit's completion is called only after its
// data is durable.
#pragma once

#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/model.h"
#include "core/result.h"
#include "engine/call.h"
#include "engine/engine.h"

namespace store {

using Id = int64_t;

// One stored configuration object (publisher, buyer, campaign, number, conversion group) in
// its JSON form; config/codec.h decodes it.
struct ConfigRow {
  Id id = 0;
  Id account_id = 0;
  std::string kind;  // "publisher", "buyer", "campaign", "number", "conversion_group"
  Id parent_id = 0;  // the campaign of a group; 0 otherwise
  std::string doc;
  core::Millis created_at = 0;
  core::Millis updated_at = 0;
};

// One buyer postback as logged with its call; params never include the call key.
struct PostbackLog {
  core::Millis at = 0;
  std::string method;
  std::string params_json;  // {"tag":["v1","v2"],"key":"[redacted]"}
  std::string outcome;      // status sentence or refusal reason
  int http_status = 200;
};

// How many postbacks a call's log holds: all of them, and those refused (http_status not 200).
struct PostbackCounts {
  int64_t total = 0;
  int64_t refused = 0;
};

// A recorded effect of a state change (a webhook trigger) with its call.
struct EffectRow {
  // Orders a call's effects, nothing more: SQLite keeps them in the call's row and numbers
  // them from 1 there, PostgreSQL gives its rows ids of their own.
  Id id = 0;
  std::string call_uuid;
  std::string trigger;
  core::Millis at = 0;
};

enum class DeliveryState { kPending = 0, kRetrying = 1, kDelivered = 2, kFailed = 3 };
const char* ToString(DeliveryState s);
std::optional<DeliveryState> DeliveryStateFromString(std::string_view s);

// One attempt to send a delivery.
struct Attempt {
  core::Millis at = 0;
  std::optional<int> http_status;  // none when no response arrived
  int64_t latency_ms = 0;
  std::string error;             // error class: "timeout", "connect", "refused_address", …
  std::string response_excerpt;  // the first bytes of the response body
};

// A webhook delivery of the outbox: one request of one webhook group for one call's effect.
struct Delivery {
  Id id = 0;
  Id account_id = 0;
  Id call_id = 0;
  std::string call_uuid;
  Id group_id = 0;
  int request_index = 0;
  std::string trigger;
  std::string webhook_id;
  DeliveryState state = DeliveryState::kPending;
  int attempt_count = 0;
  std::optional<core::Millis> next_attempt_at;  // none once delivered or failed
  core::Millis created_at = 0;
  core::Millis updated_at = 0;
  std::string url;                // the URL of the last attempt, call key redacted
  std::vector<Attempt> attempts;  // filled by ListDeliveries
};

struct DeliveryFilter {
  Id account_id = 0;
  std::optional<Id> call_id;
  std::optional<DeliveryState> state;
  std::optional<Id> before_id;  // cursor: rows with a smaller id
  int limit = 50;
};

// A delivery's lease as its sender holds it: the lease_until it claimed (or inserted) it under.
struct HeldLease {
  Id delivery_id = 0;
  core::Millis until = 0;
};

// What one claim of due deliveries may take: `limit` in all, and from each account its room,
// `per_account` less the places the sender already holds for that account (`held`). Past its
// room an account may still be lent a place, while `keep_free` of the claim's `limit` stay free
// after it (none lent by default). So one account's backlog, or its receivers that hang, never
// fills every place a sender has, and an account alone is not held to its share.
struct ClaimRoom {
  int limit = 0;
  int per_account = std::numeric_limits<int>::max();
  std::unordered_map<Id, int> held;
  int keep_free = std::numeric_limits<int>::max();

  int RoomOf(Id account_id) const {
    auto it = held.find(account_id);
    const int used = it == held.end() ? 0 : it->second;
    return used >= per_account ? 0 : per_account - used;
  }
};

// What a claim took, earliest due first, and the accounts it left due deliveries of for want of
// room, theirs or lent, while the claim's limit had some: a place freed for one of them is
// worth a claim.
struct Claimed {
  std::vector<Delivery> deliveries;
  std::vector<Id> waiting;
  // An account had room for more than the claim read of it (its part of the claim's limit, when
  // many accounts have deliveries due): claim again at once.
  bool more = false;
};

// The verdict on one attempt.
struct AttemptResult {
  Attempt attempt;
  DeliveryState state = DeliveryState::kRetrying;
  std::optional<core::Millis> next_attempt_at;
  std::string url;  // redacted
  // The lease the sender held for the attempt, and the one a renewal of it under way when the
  // attempt started may have set instead (0: none).
  core::Millis lease_until = 0;
  core::Millis renewing_to = 0;
};

// The most tags that may wait for one caller's next call (TakePrecallTags hands over at most
// these).
inline constexpr int64_t kMaxPrecallTags = 100;

// Tags a publisher wrote for a caller with no call yet.
struct PrecallTag {
  Id publisher_id = 0;
  std::string key;
  std::string value;
  core::Millis created_at = 0;
};

// Pending postback deadlines, for metrics: how many, how many are due at `now` (due and not
// yet decided: the lag of the timers), and the earliest due time of those.
struct DeadlineCounts {
  int64_t pending = 0;
  int64_t due = 0;
  std::optional<core::Millis> oldest_due;
};

struct CallFilter {
  Id account_id = 0;
  std::optional<Id> campaign_id;
  std::optional<engine::Status> status;
  std::optional<bool> converted;
  std::optional<core::Millis> since;  // started_at >= since
  std::optional<core::Millis> until;  // started_at < until
  std::optional<Id> before_id;        // cursor: rows with a smaller id
  int limit = 50;
};

// Reads; a consistent snapshot for the duration of one Read() call.
class Reader {
 public:
  virtual ~Reader() = default;
  virtual core::Result<int64_t> ConfigVersion() = 0;
  virtual core::Result<std::vector<config::Account>> LoadAccounts() = 0;
  virtual core::Result<std::vector<config::ApiKey>> LoadApiKeys() = 0;
  virtual core::Result<std::vector<ConfigRow>> LoadConfigRows() = 0;

  virtual core::Result<std::optional<engine::Call>> FindCall(std::string_view uuid) = 0;
  // The account's call with this edge id (see engine::Call::edge_call_id).
  virtual core::Result<std::optional<engine::Call>> FindCallByEdgeId(
      Id account_id, std::string_view edge_call_id) = 0;
  // Newest first, with tags.
  virtual core::Result<std::vector<engine::Call>> ListCalls(const CallFilter& filter) = 0;
  // The call's newest `limit` postbacks, oldest first.
  virtual core::Result<std::vector<PostbackLog>> ListPostbacks(Id call_id, int limit) = 0;
  virtual core::Result<PostbackCounts> CountPostbacks(Id call_id) = 0;
  virtual core::Result<std::vector<EffectRow>> ListEffects(Id call_id) = 0;
  // The caller's latest call in the campaign started between `since` and `until` (both
  // included), leaving out calls a SIP route lookup closed for want of a buyer (no_route):
  // nobody took those.
  virtual core::Result<std::optional<engine::PreviousCall>> FindPreviousCall(
      Id account_id, Id campaign_id, std::string_view caller_number, core::Millis since,
      core::Millis until) = 0;
  // The account's latest call from this caller that is live or ended at or after
  // `ended_since`.
  virtual core::Result<std::optional<engine::Call>> FindRecentCallByCaller(
      Id account_id, std::string_view caller_number, core::Millis ended_since) = 0;
  // UUIDs of calls not ended that started before `started_before`, oldest first.
  virtual core::Result<std::vector<std::string>> ListOpenCalls(core::Millis started_before,
                                                               int limit) = 0;
  // Calls in progress (routed or answered) per buyer of the account.
  virtual core::Result<std::map<Id, int64_t>> LiveCallsByBuyer(Id account_id) = 0;
  // Calls per status name, for metrics.
  virtual core::Result<std::map<std::string, int64_t>> CountCallsByStatus() = 0;
  virtual core::Result<DeadlineCounts> CountDeadlines(core::Millis now) = 0;

  // Newest first, each with its attempts.
  virtual core::Result<std::vector<Delivery>> ListDeliveries(const DeliveryFilter& filter) = 0;
  virtual core::Result<std::optional<Delivery>> FindDelivery(Id account_id, Id id) = 0;
  // Deliveries per state name, for metrics (pending + retrying = the outbox depth).
  virtual core::Result<std::map<std::string, int64_t>> CountDeliveriesByState() = 0;
  // When the next unclaimed delivery is due, if any.
  virtual core::Result<std::optional<core::Millis>> NextDeliveryDue() = 0;
};

// Reads and writes inside one unit of work of the writer.
class Writer : public Reader {
 public:
  // Configuration. Every change bumps the configuration version.
  // The configuration version, which no other writer can change until this unit commits (on
  // PostgreSQL the version row is locked; SQLite has one writer): read before a change, it
  // tells whether the changes after it are this unit's alone.
  virtual core::Result<int64_t> LockConfigVersion() = 0;
  virtual core::Result<Id> InsertConfig(const ConfigRow& row) = 0;
  virtual core::Result<void> UpdateConfig(const ConfigRow& row) = 0;
  virtual core::Result<void> DeleteConfig(Id account_id, Id id) = 0;
  virtual core::Result<Id> InsertAccount(const config::Account& account) = 0;
  virtual core::Result<void> UpdateAccount(const config::Account& account) = 0;
  virtual core::Result<Id> InsertApiKey(const config::ApiKey& key) = 0;
  virtual core::Result<void> DeleteApiKey(Id account_id, Id id) = 0;

  // Persists one engine step: inserts the call when call.id is 0 (and sets it), else updates
  // its row when outcome.call_changed; appends the outcome's new tags and effects; inserts its
  // deliveries (setting each one's id; leased when it has a lease_until); sets or clears the
  // postback deadline.
  virtual core::Result<void> SaveCall(engine::Call& call, engine::Outcome& outcome) = 0;
  virtual core::Result<void> AppendPostback(Id call_id, const PostbackLog& entry) = 0;

  // Claims deliveries due at `now` whose lease is free, as many as `room` allows, earliest due
  // first within it, leasing them until `lease_until` (longer than any attempt), so that one
  // sender at a time sends each.
  virtual core::Result<Claimed> ClaimDueDeliveries(core::Millis now, core::Millis lease_until,
                                                   const ClaimRoom& room) = 0;
  // Extends the leases a sender still holds: each delivery of `held` whose row is still leased
  // until the time given with it is leased until `lease_until` instead. Returns the ids renewed;
  // a row whose lease has changed since (its attempt recorded, resent, or claimed by another
  // sender after the lease ran out) is left alone and not returned.
  virtual core::Result<std::vector<Id>> RenewDeliveryLeases(const std::vector<HeldLease>& held,
                                                            core::Millis lease_until) = 0;
  // Claims up to `limit` postback deadlines due at `now` whose lease is free, earliest first,
  // leasing them until `lease_until`: (call uuid, due). Deciding the call removes its row; a
  // node that dies first leaves the lease to run out, and another node claims it again.
  virtual core::Result<std::vector<std::pair<std::string, core::Millis>>> ClaimDueDeadlines(
      core::Millis now, core::Millis lease_until, int limit) = 0;
  // Records an attempt (always: it happened) and, while the delivery still holds the lease the
  // attempt was made under (result.lease_until or result.renewing_to), its verdict: the state
  // and next attempt, and frees the lease. A delivery whose lease has changed since (an
  // operator's resend freed it, or another node took it over once it ran out) keeps its state
  // and lease: that resend or that node decides it.
  virtual core::Result<void> RecordAttempt(Id delivery_id, const AttemptResult& result) = 0;
  // Makes a delivery due again now (operator's resend), whatever its state.
  virtual core::Result<void> ResendDelivery(Id account_id, Id id, core::Millis now) = 0;
  // Stores tags for a caller with no call; they expire at `expires_at`. A tag this publisher
  // already stored for the caller (same name and value, unexpired) is not stored again: its
  // expiry moves to `expires_at` if that is later. kUnprocessable, before anything is written,
  // when the caller would then have more than kMaxPrecallTags waiting.
  virtual core::Result<void> InsertPrecallTags(Id account_id, Id publisher_id,
                                               std::string_view caller_number,
                                               const engine::Params& tags, core::Millis now,
                                               core::Millis expires_at) = 0;
  // Removes and returns the caller's unexpired stored tags, oldest first and at most 100 (the
  // limit of one request; the caller's call has started); the rest are dropped too.
  virtual core::Result<std::vector<PrecallTag>> TakePrecallTags(Id account_id,
                                                                std::string_view caller_number,
                                                                core::Millis now) = 0;
  // Drops every expired stored tag; returns how many.
  virtual core::Result<int64_t> DeleteExpiredPrecallTags(core::Millis now) = 0;
  // Frees every lease of deliveries and deadlines: a single node calls this at start (no other
  // node can hold one).
  virtual core::Result<void> ReleaseLeases() = 0;
  // Stores `value` under `name` unless a value is stored there already; returns the stored one.
  virtual core::Result<std::string> KeepSetting(std::string_view name, std::string_view value) = 0;
};

class Store {
 public:
  using Work = std::function<core::Result<void>(Writer&)>;
  using Done = std::function<void(core::Result<void>)>;

  virtual ~Store() = default;

  // Queues `work` for the writer. `work` runs on the writer thread inside a transaction shared
  // with other queued work; an error undoes that work alone. `work` may run more than once (the
  // SQLite store runs a group again when one of its units fails after writing; PostgreSQL
  // retries a deadlock): it must give the same effect whether or not it ran before.
  // `done` runs on a thread of the store once the commit is durable (SQLite: its sync thread;
  // PostgreSQL: the writer's), or with the error; it must be quick (hand the result to another
  // thread) and must not wait for the store. Thread-safe.
  virtual void Write(Work work, Done done) = 0;
  // Write() and wait.
  core::Result<void> WriteSync(Work work);

  // Runs `fn` on a read-only connection, in the calling thread. Thread-safe.
  virtual core::Result<void> Read(const std::function<core::Result<void>(Reader&)>& fn) = 0;

  // Finishes queued writes and closes. Write() after Close() completes with kUnavailable.
  virtual void Close() = 0;

  // True when other nodes may use the same database at once (leases are then honoured at
  // start instead of freed).
  virtual bool shared() const = 0;

  // Appends the store's metrics in Prometheus text format: units of work by outcome,
  // transactions committed and how long their COMMIT took, units waiting for a writer.
  // Thread-safe.
  virtual void RenderMetrics(std::string& out) const = 0;
};

struct SqliteOptions {
  std::string path;  // database file; its folder must exist
  int read_connections = 4;
  size_t max_batch = 512;     // units of work per commit
  size_t max_queue = 100000;  // Write() beyond this fails fast with kUnavailable
  // A WAL this many pages long wakes the checkpoint thread; at four times as long the writer
  // finishes the checkpoint itself so that the WAL starts over (4 KiB pages: 16 and 64 MB).
  int checkpoint_pages = 4000;
  // Makes the WAL file durable (fdatasync); tests wrap it to hold a sync back or fail it.
  std::function<int(int fd)> sync_wal;
};

core::Result<std::unique_ptr<Store>> OpenSqlite(const SqliteOptions& options);

struct PostgresOptions {
  std::string url;            // postgresql://user:password@host:port/database?…
  int writers = 8;            // connections running units of work, one transaction each
  int read_connections = 8;   // connections for Read()
  size_t max_queue = 100000;  // Write() beyond this fails fast with kUnavailable
};

// Connects, migrates (once, under an advisory lock, however many nodes start together) and
// starts the writers. Several nodes may share one database (shared() is true).
core::Result<std::unique_ptr<Store>> OpenPostgres(const PostgresOptions& options);

}  // namespace store
