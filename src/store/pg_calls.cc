// PgTxn: calls with their tags, postback log, effects, postback deadlines and the tags
// publishers stored for callers.
#include <algorithm>
#include <set>

#include "store/pg_txn.h"
#include "store/rows.h"

namespace store {

using core::Result;

namespace {

// Statements (constants: PgConn caches them by address). A writer's reads of the call it is
// about to change lock the row (FOR UPDATE): units of work on one call, from any node, run one
// after the other.
// A reader gets one call with its tags in one round trip: the call's row joined with its tags,
// one row a tag (columns 26–31), or one row with null tag columns.
std::string WithTags(const std::string& where) {
  return std::string(
             "SELECT c.*, t.key, t.value, t.source, t.carried, t.at, t.publisher_id FROM"
             " (SELECT ") +
         kCallColumns + " FROM calls WHERE " + where +
         ") c LEFT JOIN call_tags t ON t.call_id = c.id ORDER BY t.seq";
}
// A writer locks the row first and reads the tags in a statement of their own: a statement
// that waited for the lock still sees the data of before the wait, without the tags the unit
// it waited for added.
std::string Locking(const std::string& where) {
  return std::string("SELECT ") + kCallColumns + " FROM calls WHERE " + where + " FOR UPDATE";
}
const std::string kSelectCallByUuid = WithTags("uuid = $1");
const std::string kLockCallByUuid = Locking("uuid = $1");
const std::string kSelectCallByEdgeId = WithTags("account_id = $1 AND edge_call_id = $2");
const std::string kLockCallByEdgeId = Locking("account_id = $1 AND edge_call_id = $2");
const std::string kSelectCalls =
    std::string("SELECT ") + kCallColumns +
    " FROM calls WHERE account_id = $1 AND ($2::bigint IS NULL OR campaign_id = $2)"
    " AND ($3::integer IS NULL OR status = $3)"
    " AND ($4::integer IS NULL OR (conv_state = 2) = ($4 = 1))"
    " AND ($5::bigint IS NULL OR started_at >= $5) AND ($6::bigint IS NULL OR started_at < $6)"
    " AND ($7::bigint IS NULL OR id < $7) ORDER BY id DESC LIMIT $8";
constexpr const char* kSelectTags =
    "SELECT key, value, source, carried, at, publisher_id FROM call_tags WHERE call_id = $1"
    " ORDER BY seq";
constexpr const char* kInsertCall =
    "INSERT INTO calls (uuid, account_id, campaign_id, publisher_id, buyer_id, number_id, number,"
    " caller_number, repeat, status, started_at, routed_at, answered_at, ended_at,"
    " duration_seconds, hung_up_by, conv_state, conv_group_id, revenue_cents, payout_cents,"
    " conv_late, deadline_at, decided_at, early_postback, edge_call_id)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,"
    " $19, $20, $21, $22, $23, $24, $25) RETURNING id";
constexpr const char* kUpdateCall =
    "UPDATE calls SET uuid = $1, account_id = $2, campaign_id = $3, publisher_id = $4,"
    " buyer_id = $5, number_id = $6, number = $7, caller_number = $8, repeat = $9, status = $10,"
    " started_at = $11, routed_at = $12, answered_at = $13, ended_at = $14,"
    " duration_seconds = $15, hung_up_by = $16, conv_state = $17, conv_group_id = $18,"
    " revenue_cents = $19, payout_cents = $20, conv_late = $21, deadline_at = $22,"
    " decided_at = $23, early_postback = $24, edge_call_id = $25 WHERE id = $26";
// A step's new tags in one statement: parallel arrays, one element a tag.
constexpr const char* kInsertTags =
    "INSERT INTO call_tags (call_id, seq, key, value, source, carried, at, publisher_id)"
    " SELECT $1, * FROM unnest($2::integer[], $3::text[], $4::text[], $5::integer[],"
    " $6::integer[], $7::bigint[], $8::bigint[])";
// The latest of the caller's calls (a subquery: LIMIT before the join).
constexpr const char* kRecentByCaller =
    "id = (SELECT id FROM calls WHERE account_id = $1 AND caller_number = $2"
    " AND (ended_at IS NULL OR ended_at >= $3) ORDER BY started_at DESC, id DESC LIMIT 1)";
const std::string kRecentCallByCaller = WithTags(kRecentByCaller);
const std::string kLockRecentCallByCaller = Locking(kRecentByCaller);
constexpr const char* kInsertPrecallTag =
    "INSERT INTO precall_tags (account_id, publisher_id, caller_number, key, value, created_at,"
    " expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
// A tag stored already (by this publisher, unexpired): kept longer instead of stored twice.
constexpr const char* kRefreshPrecallTag =
    "UPDATE precall_tags SET expires_at = greatest(expires_at, $1) WHERE account_id = $2 AND"
    " caller_number = $3 AND publisher_id = $4 AND key = $5 AND value = $6 AND expires_at > $7";
constexpr const char* kPrecallTagStored =
    "SELECT 1 FROM precall_tags WHERE account_id = $1 AND caller_number = $2 AND"
    " publisher_id = $3 AND key = $4 AND value = $5 AND expires_at > $6 LIMIT 1";
constexpr const char* kCountPrecallTags =
    "SELECT count(*) FROM precall_tags WHERE account_id = $1 AND caller_number = $2 AND"
    " expires_at > $3";
constexpr const char* kTakePrecallTags =
    "DELETE FROM precall_tags WHERE account_id = $1 AND caller_number = $2"
    " RETURNING id, publisher_id, key, value, created_at, expires_at";
constexpr const char* kDeleteExpiredPrecallTags = "DELETE FROM precall_tags WHERE expires_at <= $1";
constexpr const char* kInsertDelivery =
    "INSERT INTO webhook_deliveries (account_id, call_id, group_id, request_index, trigger,"
    " webhook_id, state, next_attempt_at, created_at, updated_at, lease_until)"
    " VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7, $7, $8) RETURNING id";
constexpr const char* kOpenCalls =
    "SELECT uuid FROM calls WHERE ended_at IS NULL AND started_at < $1 ORDER BY started_at"
    " LIMIT $2";
constexpr const char* kInsertEffect =
    "INSERT INTO call_effects (call_id, trigger, at) VALUES ($1, $2, $3)";
constexpr const char* kSetDeadline =
    "INSERT INTO postback_deadlines (call_id, due_at) VALUES ($1, $2)"
    " ON CONFLICT (call_id) DO UPDATE SET due_at = EXCLUDED.due_at, lease_until = NULL";
constexpr const char* kClearDeadline = "DELETE FROM postback_deadlines WHERE call_id = $1";
// Rows another node is claiming or deciding right now are skipped, never waited for.
constexpr const char* kClaimDeadlines =
    "WITH due AS (SELECT call_id FROM postback_deadlines"
    " WHERE due_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)"
    " ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED)"
    " UPDATE postback_deadlines d SET lease_until = $2 FROM due, calls c"
    " WHERE d.call_id = due.call_id AND c.id = d.call_id RETURNING c.uuid, d.due_at";
constexpr const char* kInsertPostback =
    "INSERT INTO postbacks (call_id, at, method, params, outcome, http_status)"
    " VALUES ($1, $2, $3, $4, $5, $6)";
constexpr const char* kSelectPostbacks =
    "SELECT at, method, params, outcome, http_status FROM (SELECT id, at, method, params, outcome,"
    " http_status FROM postbacks WHERE call_id = $1 ORDER BY id DESC LIMIT $2) AS p ORDER BY id";
constexpr const char* kCountPostbacks =
    "SELECT count(*), coalesce(sum(CASE WHEN http_status <> 200 THEN 1 ELSE 0 END), 0)"
    " FROM postbacks WHERE call_id = $1";
constexpr const char* kSelectEffects =
    "SELECT e.id, c.uuid, e.trigger, e.at FROM call_effects e JOIN calls c ON c.id = e.call_id"
    " WHERE e.call_id = $1 ORDER BY e.id";
constexpr const char* kPreviousCall =
    "SELECT id, buyer_id FROM calls WHERE account_id = $1 AND campaign_id = $2 AND"
    " caller_number = $3 AND started_at BETWEEN $4 AND $5 AND hung_up_by <> 'no_route'"
    " ORDER BY started_at DESC, id DESC LIMIT 1";
// Routing on several nodes: a writer counting an account's live calls first takes the
// account's routing lock (to the end of its transaction), so two calls routed at once on two
// nodes cannot both take a buyer's last free line.
constexpr const char* kLockRouting = "SELECT pg_advisory_xact_lock(1, $1::integer)";
// Repeat callers on several nodes: a writer looking up a caller's previous call first takes
// that caller's lock (to the end of its transaction, after the new call is inserted), so two
// calls of one caller started at once on two nodes see each other, one after the other.
constexpr const char* kLockCaller =
    "SELECT pg_advisory_xact_lock(2, hashtext($1::text || ':' || $2::text || ':' || $3))";
constexpr const char* kLiveByBuyer =
    "SELECT buyer_id, count(*) FROM calls WHERE status IN (1, 2) AND buyer_id IS NOT NULL"
    " AND account_id = $1 GROUP BY buyer_id";
constexpr const char* kCountByStatus = "SELECT status, count(*) FROM calls GROUP BY status";
constexpr const char* kCountDeadlines =
    "SELECT count(*), count(*) FILTER (WHERE due_at <= $1), min(due_at) FILTER (WHERE due_at <= $1)"
    " FROM postback_deadlines";

engine::Call ReadCallRow(const PgRow& r) {
  return ReadCall(r, r.IsNull(24) ? std::nullopt : std::optional<std::string>(r.Bytes(24)));
}

}  // namespace

Result<std::optional<engine::Call>> PgTxn::FindCall(std::string_view uuid) {
  return OneCall(writing_ ? kLockCallByUuid.c_str() : kSelectCallByUuid.c_str(),
                 PgParams().Add(uuid));
}

Result<std::optional<engine::Call>> PgTxn::FindCallByEdgeId(Id account_id,
                                                            std::string_view edge_call_id) {
  return OneCall(writing_ ? kLockCallByEdgeId.c_str() : kSelectCallByEdgeId.c_str(),
                 PgParams().Add(account_id).Add(edge_call_id));
}

Result<std::vector<engine::Call>> PgTxn::ListCalls(const CallFilter& f) {
  PgParams p;
  p.Add(f.account_id).Add(f.campaign_id);
  if (f.status)
    p.Add(static_cast<int64_t>(*f.status));
  else
    p.AddNull();
  if (f.converted)
    p.Add(static_cast<int64_t>(*f.converted));
  else
    p.AddNull();
  p.Add(f.since).Add(f.until).Add(f.before_id).Add(int64_t{f.limit});
  auto r = db_.Run(kSelectCalls.c_str(), p);
  if (!r) return std::move(r).error();
  std::vector<engine::Call> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back(ReadCallRow(r->row(i)));
  for (auto& c : out) {
    if (auto t = LoadTags(c); !t) return std::move(t).error();
  }
  return out;
}

Result<std::vector<PostbackLog>> PgTxn::ListPostbacks(Id call_id, int limit) {
  auto r = db_.Run(kSelectPostbacks, PgParams().Add(call_id).Add(int64_t{limit}));
  if (!r) return std::move(r).error();
  std::vector<PostbackLog> out;
  for (int i = 0; i < r->rows(); ++i) {
    PgRow s = r->row(i);
    out.push_back(
        PostbackLog{s.Int(0), s.Text(1), s.Text(2), s.Text(3), static_cast<int>(s.Int(4))});
  }
  return out;
}

Result<PostbackCounts> PgTxn::CountPostbacks(Id call_id) {
  auto r = db_.Run(kCountPostbacks, PgParams().Add(call_id));
  if (!r) return std::move(r).error();
  PgRow s = r->row(0);
  return PostbackCounts{s.Int(0), s.Int(1)};
}

Result<std::vector<EffectRow>> PgTxn::ListEffects(Id call_id) {
  auto r = db_.Run(kSelectEffects, PgParams().Add(call_id));
  if (!r) return std::move(r).error();
  return ReadEffects(*r);
}

Result<std::optional<engine::PreviousCall>> PgTxn::FindPreviousCall(Id account_id, Id campaign_id,
                                                                    std::string_view caller,
                                                                    core::Millis since,
                                                                    core::Millis until) {
  if (writing_) {
    auto l = db_.Run(kLockCaller, PgParams().Add(account_id).Add(campaign_id).Add(caller));
    if (!l) return std::move(l).error();
  }
  auto r = db_.Run(kPreviousCall,
                   PgParams().Add(account_id).Add(campaign_id).Add(caller).Add(since).Add(until));
  if (!r) return std::move(r).error();
  if (r->rows() == 0) return std::optional<engine::PreviousCall>();
  engine::Call prev;
  prev.id = r->row(0).Int(0);
  prev.buyer_id = r->row(0).OptInt(1);
  if (auto t = LoadTags(prev); !t) return std::move(t).error();
  return std::optional<engine::PreviousCall>(
      engine::PreviousCall{prev.buyer_id, std::move(prev.tags)});
}

Result<std::map<Id, int64_t>> PgTxn::LiveCallsByBuyer(Id account_id) {
  if (writing_) {
    if (auto l = db_.Run(kLockRouting, PgParams().Add(account_id)); !l) return std::move(l).error();
  }
  auto r = db_.Run(kLiveByBuyer, PgParams().Add(account_id));
  if (!r) return std::move(r).error();
  std::map<Id, int64_t> out;
  for (int i = 0; i < r->rows(); ++i) out[r->row(i).Int(0)] = r->row(i).Int(1);
  return out;
}

Result<std::vector<std::pair<std::string, core::Millis>>> PgTxn::ClaimDueDeadlines(
    core::Millis now, core::Millis lease_until, int limit) {
  auto r = db_.Run(kClaimDeadlines, PgParams().Add(now).Add(lease_until).Add(int64_t{limit}));
  if (!r) return std::move(r).error();
  std::vector<std::pair<std::string, core::Millis>> out;
  for (int i = 0; i < r->rows(); ++i) out.emplace_back(r->row(i).Text(0), r->row(i).Int(1));
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  return out;
}

Result<std::map<std::string, int64_t>> PgTxn::CountCallsByStatus() {
  auto r = db_.Run(kCountByStatus);
  if (!r) return std::move(r).error();
  std::map<std::string, int64_t> out;
  for (int i = 0; i < r->rows(); ++i) {
    out[engine::ToString(static_cast<engine::Status>(r->row(i).Int(0)))] = r->row(i).Int(1);
  }
  return out;
}

Result<DeadlineCounts> PgTxn::CountDeadlines(core::Millis now) {
  auto r = db_.Run(kCountDeadlines, PgParams().Add(now));
  if (!r) return std::move(r).error();
  DeadlineCounts out;
  if (r->rows() > 0) {
    out.pending = r->row(0).Int(0);
    out.due = r->row(0).Int(1);
    out.oldest_due = r->row(0).OptInt(2);
  }
  return out;
}

Result<void> PgTxn::SaveCall(engine::Call& c, engine::Outcome& out) {
  if (c.id == 0 || out.call_changed) {
    PgParams p;
    p.Add(c.uuid).Add(c.account_id).Add(c.campaign_id).Add(c.publisher_id);
    p.Add(c.buyer_id).Add(c.number_id).Add(c.number).Add(c.caller_number);
    p.Add(int64_t{c.repeat}).Add(static_cast<int64_t>(c.status)).Add(c.started_at);
    p.Add(c.routed_at).Add(c.answered_at).Add(c.ended_at);
    p.Add(c.duration_seconds).Add(c.hung_up_by);
    p.Add(static_cast<int64_t>(c.conversion.state)).Add(c.conversion.group_id);
    p.Add(Cents(c.conversion.revenue)).Add(Cents(c.conversion.payout));
    p.Add(int64_t{c.conversion.late}).Add(c.conversion.deadline_at);
    p.Add(c.conversion.decided_at);
    if (!c.early_postbacks.empty())
      p.AddBytes(EncodeEarlyPostbacks(c.early_postbacks));
    else
      p.AddNull();
    if (c.edge_call_id.empty())
      p.AddNull();
    else
      p.Add(c.edge_call_id);
    if (c.id != 0) p.Add(c.id);
    auto r = db_.Run(c.id == 0 ? kInsertCall : kUpdateCall, p);
    if (!r) return std::move(r).error();
    if (c.id == 0) c.id = r->row(0).Int(0);
  }
  // New tags are the last ones of call.tags; seq is a tag's position on its call.
  int64_t seq = static_cast<int64_t>(c.tags.size() - out.new_tags.size());
  if (!out.new_tags.empty()) {
    PgArray seqs, keys, values, sources, carried, ats, publishers;
    for (const auto& t : out.new_tags) {
      seqs.Add(seq++), keys.Add(t.key), values.Add(t.value);
      sources.Add(static_cast<int64_t>(t.source)), carried.Add(int64_t{t.carried});
      ats.Add(t.at), publishers.Add(t.publisher_id);
    }
    PgParams p;
    p.Add(c.id).Add(seqs.text()).Add(keys.text()).Add(values.text()).Add(sources.text());
    p.Add(carried.text()).Add(ats.text()).Add(publishers.text());
    if (auto r = db_.Run(kInsertTags, p); !r) return std::move(r).error();
  }
  for (const auto& e : out.effects) {
    if (auto r = db_.Run(kInsertEffect, PgParams().Add(c.id).Add(e.trigger).Add(e.at)); !r) {
      return std::move(r).error();
    }
  }
  for (auto& d : out.deliveries) {
    PgParams p;
    p.Add(c.account_id).Add(c.id).Add(d.group_id).Add(int64_t{d.request_index});
    p.Add(d.trigger).Add(d.webhook_id).Add(d.at).Add(d.lease_until);
    auto r = db_.Run(kInsertDelivery, p);
    if (!r) return std::move(r).error();
    d.id = r->row(0).Int(0);
  }
  if (out.timer == engine::Outcome::Timer::kSet) {
    if (auto r = db_.Run(kSetDeadline, PgParams().Add(c.id).Add(out.timer_at)); !r) {
      return std::move(r).error();
    }
  } else if (out.timer == engine::Outcome::Timer::kClear) {
    if (auto r = db_.Run(kClearDeadline, PgParams().Add(c.id)); !r) return std::move(r).error();
  }
  return {};
}

Result<std::optional<engine::Call>> PgTxn::FindRecentCallByCaller(Id account_id,
                                                                  std::string_view caller,
                                                                  core::Millis ended_since) {
  return OneCall(writing_ ? kLockRecentCallByCaller.c_str() : kRecentCallByCaller.c_str(),
                 PgParams().Add(account_id).Add(caller).Add(ended_since));
}

Result<void> PgTxn::InsertPrecallTags(Id account_id, Id publisher_id, std::string_view caller,
                                      const engine::Params& tags, core::Millis now,
                                      core::Millis expires_at) {
  // Room first, before a row is written (as on SQLite, where a unit that fails after writing
  // sends its whole group back to run again).
  auto c = db_.Run(kCountPrecallTags, PgParams().Add(account_id).Add(caller).Add(now));
  if (!c) return std::move(c).error();
  int64_t waiting = c->rows() > 0 ? c->row(0).Int(0) : 0;
  std::set<std::pair<std::string_view, std::string_view>> seen;
  for (const auto& [k, v] : tags) {
    if (!seen.emplace(k, v).second) continue;
    PgParams e;
    e.Add(account_id).Add(caller).Add(publisher_id).Add(k).Add(v).Add(now);
    auto stored = db_.Run(kPrecallTagStored, e);
    if (!stored) return std::move(stored).error();
    if (stored->rows() == 0) ++waiting;
  }
  if (auto room = CheckPrecallRoom(waiting); !room) return room;
  for (const auto& [k, v] : tags) {
    PgParams u;
    u.Add(expires_at).Add(account_id).Add(caller).Add(publisher_id).Add(k).Add(v).Add(now);
    auto refreshed = db_.Run(kRefreshPrecallTag, u);
    if (!refreshed) return std::move(refreshed).error();
    if (refreshed->changed() > 0) continue;
    PgParams p;
    p.Add(account_id).Add(publisher_id).Add(caller).Add(k).Add(v).Add(now).Add(expires_at);
    if (auto r = db_.Run(kInsertPrecallTag, p); !r) return std::move(r).error();
  }
  return {};
}

Result<std::vector<PrecallTag>> PgTxn::TakePrecallTags(Id account_id, std::string_view caller,
                                                       core::Millis now) {
  auto r = db_.Run(kTakePrecallTags, PgParams().Add(account_id).Add(caller));
  if (!r) return std::move(r).error();
  std::vector<std::pair<Id, PrecallTag>> live;
  for (int i = 0; i < r->rows(); ++i) {
    PgRow s = r->row(i);
    if (s.Int(5) > now)
      live.emplace_back(s.Int(0), PrecallTag{s.Int(1), s.Text(2), s.Text(3), s.Int(4)});
  }
  std::sort(live.begin(), live.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<PrecallTag> out;
  for (auto& [id, tag] : live) {
    if (static_cast<int64_t>(out.size()) == kMaxPrecallTags) break;
    out.push_back(std::move(tag));
  }
  return out;
}

Result<int64_t> PgTxn::DeleteExpiredPrecallTags(core::Millis now) {
  auto r = db_.Run(kDeleteExpiredPrecallTags, PgParams().Add(now));
  if (!r) return std::move(r).error();
  return r->changed();
}

Result<void> PgTxn::AppendPostback(Id call_id, const PostbackLog& e) {
  PgParams p;
  p.Add(call_id).Add(e.at).Add(e.method).Add(e.params_json).Add(e.outcome);
  p.Add(int64_t{e.http_status});
  if (auto r = db_.Run(kInsertPostback, p); !r) return std::move(r).error();
  return {};
}

Result<std::vector<EffectRow>> PgTxn::ReadEffects(const PgResult& r) {
  std::vector<EffectRow> out;
  for (int i = 0; i < r.rows(); ++i) {
    PgRow s = r.row(i);
    out.push_back(EffectRow{s.Int(0), s.Text(1), s.Text(2), s.Int(3)});
  }
  return out;
}

Result<void> PgTxn::LoadTags(engine::Call& c) {
  auto r = db_.Run(kSelectTags, PgParams().Add(c.id));
  if (!r) return std::move(r).error();
  for (int i = 0; i < r->rows(); ++i) {
    PgRow s = r->row(i);
    c.tags.push_back(engine::Tag{s.Text(0), s.Text(1), static_cast<engine::TagSource>(s.Int(2)),
                                 s.Int(4), s.Int(3) != 0, s.OptInt(5)});
  }
  return {};
}

Result<std::vector<std::string>> PgTxn::ListOpenCalls(core::Millis started_before, int limit) {
  auto r = db_.Run(kOpenCalls, PgParams().Add(started_before).Add(int64_t{limit}));
  if (!r) return std::move(r).error();
  std::vector<std::string> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back(r->row(i).Text(0));
  return out;
}

Result<std::optional<engine::Call>> PgTxn::OneCall(const char* sql, const PgParams& params) {
  auto r = db_.Run(sql, params);
  if (!r) return std::move(r).error();
  std::optional<engine::Call> call;
  if (r->rows() == 0) return call;
  call = ReadCallRow(r->row(0));
  if (!r->has_column(26)) {  // a writer's locking read
    if (auto t = LoadTags(*call); !t) return std::move(t).error();
    return call;
  }
  for (int i = 0; i < r->rows(); ++i) {
    PgRow s = r->row(i);
    if (s.IsNull(26)) continue;  // a call without tags
    call->tags.push_back(engine::Tag{s.Text(26), s.Text(27),
                                     static_cast<engine::TagSource>(s.Int(28)), s.Int(30),
                                     s.Int(29) != 0, s.OptInt(31)});
  }
  return call;
}

}  // namespace store
