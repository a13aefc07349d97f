// SqliteTxn: calls with their tags, postback log, effects, postback deadlines and the tags
// publishers stored for callers.

#include <charconv>
#include <set>
#include <string_view>

#include "store/rows.h"
#include "store/sqlite_txn.h"

namespace store {

using core::Result;

namespace {

// Statements (constants: Db caches them by address).
const std::string kSelectCallByUuid =
    std::string("SELECT ") + kCallColumns + " FROM calls WHERE uuid = ?";
const std::string kSelectCallByEdgeId =
    std::string("SELECT ") + kCallColumns + " FROM calls WHERE account_id = ? AND edge_call_id = ?";
const std::string kSelectCalls =
    std::string("SELECT ") + kCallColumns +
    " FROM calls WHERE account_id = ?1 AND (?2 IS NULL OR campaign_id = ?2)"
    " AND (?3 IS NULL OR status = ?3)"
    " AND (?4 IS NULL OR (conv_state = 2) = ?4)"
    " AND (?5 IS NULL OR started_at >= ?5) AND (?6 IS NULL OR started_at < ?6)"
    " AND (?7 IS NULL OR id < ?7) ORDER BY id DESC LIMIT ?8";
constexpr const char* kSelectTags =
    "SELECT key, value, source, carried, at, publisher_id FROM call_tags WHERE call_id = ?"
    " ORDER BY call_id, seq";
constexpr const char* kInsertCall =
    "INSERT INTO calls (uuid, account_id, campaign_id, publisher_id, buyer_id, number_id, number,"
    " caller_number, repeat, status, started_at, routed_at, answered_at, ended_at,"
    " duration_seconds, hung_up_by, conv_state, conv_group_id, revenue_cents, payout_cents,"
    " conv_late, deadline_at, decided_at, early_postback, edge_call_id, effects)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
    " ?19, ?20, ?21, ?22, ?23, ?24, ?26, ?27)";
// What a call was started with (uuid, account, campaign, number, caller, repeat, started_at,
// edge id) never changes, and is left out: setting an indexed column, even to its own value,
// makes SQLite rewrite that column's index entries.
constexpr const char* kUpdateCall =
    "UPDATE calls SET publisher_id = ?4, buyer_id = ?5, status = ?10, routed_at = ?12,"
    " answered_at = ?13, ended_at = ?14, duration_seconds = ?15, hung_up_by = ?16,"
    " conv_state = ?17, conv_group_id = ?18, revenue_cents = ?19, payout_cents = ?20,"
    " conv_late = ?21, deadline_at = ?22, decided_at = ?23, early_postback = ?24,"
    " effects = CASE WHEN ?27 = '' THEN effects WHEN effects = '' THEN ?27"
    " ELSE effects || ',' || ?27 END WHERE id = ?25";
// A step's effects appended to its call's (see EncodeEffects) when the row is not written.
constexpr const char* kAppendEffects =
    "UPDATE calls SET effects = CASE WHEN effects = '' THEN ?1 ELSE effects || ',' || ?1 END"
    " WHERE id = ?2";
constexpr const char* kInsertTag =
    "INSERT INTO call_tags (call_id, seq, key, value, source, carried, at, publisher_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
const std::string kRecentCallByCaller =
    std::string("SELECT ") + kCallColumns +
    " FROM calls WHERE account_id = ? AND caller_number = ? AND (ended_at IS NULL OR ended_at >= ?)"
    " ORDER BY started_at DESC, id DESC LIMIT 1";
constexpr const char* kInsertPrecallTag =
    "INSERT INTO precall_tags (account_id, publisher_id, caller_number, key, value, created_at,"
    " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)";
// A tag stored already (by this publisher, unexpired): kept longer instead of stored twice.
constexpr const char* kRefreshPrecallTag =
    "UPDATE precall_tags SET expires_at = max(expires_at, ?1) WHERE account_id = ?2 AND"
    " caller_number = ?3 AND publisher_id = ?4 AND key = ?5 AND value = ?6 AND expires_at > ?7";
constexpr const char* kPrecallTagStored =
    "SELECT 1 FROM precall_tags WHERE account_id = ?1 AND caller_number = ?2 AND"
    " publisher_id = ?3 AND key = ?4 AND value = ?5 AND expires_at > ?6 LIMIT 1";
constexpr const char* kCountPrecallTags =
    "SELECT count(*) FROM precall_tags WHERE account_id = ? AND caller_number = ? AND"
    " expires_at > ?";
constexpr const char* kSelectPrecallTags =
    "SELECT publisher_id, key, value, created_at FROM precall_tags WHERE account_id = ? AND"
    " caller_number = ? AND expires_at > ? ORDER BY id LIMIT ?";
constexpr const char* kDeletePrecallTagsOfCaller =
    "DELETE FROM precall_tags WHERE account_id = ? AND caller_number = ?";
constexpr const char* kDeleteExpiredPrecallTags = "DELETE FROM precall_tags WHERE expires_at <= ?";
constexpr const char* kInsertDelivery =
    "INSERT INTO webhook_deliveries (account_id, call_id, group_id, request_index, trigger,"
    " webhook_id, state, next_attempt_at, created_at, updated_at, lease_until)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7, ?7, ?8)";
constexpr const char* kOpenCalls =
    "SELECT uuid FROM calls WHERE ended_at IS NULL AND started_at < ? ORDER BY started_at LIMIT ?";
constexpr const char* kSetDeadline =
    "INSERT INTO postback_deadlines (call_id, due_at) VALUES (?1, ?2)"
    " ON CONFLICT (call_id) DO UPDATE SET due_at = ?2, lease_until = NULL";
constexpr const char* kClearDeadline = "DELETE FROM postback_deadlines WHERE call_id = ?";
constexpr const char* kDueDeadlines =
    "SELECT d.call_id, c.uuid, d.due_at FROM postback_deadlines d JOIN calls c ON c.id = d.call_id"
    " WHERE d.due_at <= ?1 AND (d.lease_until IS NULL OR d.lease_until <= ?1)"
    " ORDER BY d.due_at LIMIT ?2";
constexpr const char* kLeaseDeadline =
    "UPDATE postback_deadlines SET lease_until = ? WHERE call_id = ?";
constexpr const char* kInsertPostback =
    "INSERT INTO postbacks (call_id, at, method, params, outcome, http_status)"
    " VALUES (?, ?, ?, ?, ?, ?)";
constexpr const char* kSelectPostbacks =
    "SELECT at, method, params, outcome, http_status FROM (SELECT id, at, method, params, outcome,"
    " http_status FROM postbacks WHERE call_id = ?1 ORDER BY id DESC LIMIT ?2) AS p ORDER BY id";
constexpr const char* kCountPostbacks =
    "SELECT count(*), coalesce(sum(CASE WHEN http_status <> 200 THEN 1 ELSE 0 END), 0)"
    " FROM postbacks WHERE call_id = ?";
constexpr const char* kSelectEffects = "SELECT uuid, effects FROM calls WHERE id = ?";
constexpr const char* kPreviousCall =
    "SELECT id, buyer_id FROM calls WHERE account_id = ? AND campaign_id = ? AND"
    " caller_number = ? AND started_at BETWEEN ? AND ? AND hung_up_by <> 'no_route'"
    " ORDER BY started_at DESC, id DESC LIMIT 1";
constexpr const char* kLiveByBuyer =
    "SELECT buyer_id, count(*) FROM calls WHERE status IN (1, 2) AND buyer_id IS NOT NULL"
    " AND account_id = ? GROUP BY buyer_id";
constexpr const char* kCountByStatus = "SELECT status, count(*) FROM calls GROUP BY status";
constexpr const char* kCountDeadlines =
    "SELECT count(*), coalesce(sum(due_at <= ?1), 0), min(CASE WHEN due_at <= ?1 THEN due_at END)"
    " FROM postback_deadlines";
// A call's effects live in its row, "trigger:at,trigger:at,…" in the order they happened: a
// step rewrites the row anyway, where a table of effects with its index by call cost two b-tree
// inserts an effect, six a call (14% of the writer's instructions in the call lifecycle).
// Triggers are words of [a-z_], times integers, so neither separator can occur in them.
std::string EncodeEffects(const std::vector<engine::Effect>& effects) {
  std::string out;
  for (const auto& e : effects) {
    if (!out.empty()) out += ',';
    out += e.trigger;
    out += ':';
    out += std::to_string(e.at);
  }
  return out;
}

// The effects of EncodeEffects, numbered from 1 in their order (an effect's id is its place in
// its call's list); nullopt when the text is not such a list.
std::optional<std::vector<EffectRow>> DecodeEffects(std::string_view text,
                                                    const std::string& call_uuid) {
  std::vector<EffectRow> out;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text.remove_prefix(comma == std::string_view::npos ? text.size() : comma + 1);
    const size_t colon = item.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    core::Millis at = 0;
    const std::string_view digits = item.substr(colon + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), at);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    out.push_back(EffectRow{static_cast<Id>(out.size() + 1), call_uuid,
                            std::string(item.substr(0, colon)), at});
  }
  return out;
}

engine::Call ReadCallRow(const Stmt& s) {
  return ReadCall(s, s.IsNull(24) ? std::nullopt : std::optional<std::string>(s.Text(24)));
}

}  // namespace

Result<std::optional<engine::Call>> SqliteTxn::FindCall(std::string_view uuid) {
  if (cache_ != nullptr) {
    if (const engine::Call* cached = cache_->Find(std::string(uuid))) return {*cached};
  }
  Stmt s = db_.Prepare(kSelectCallByUuid.c_str());
  s.Bind(1, uuid);
  auto call = OneCall(s);
  if (cache_ != nullptr && call && *call) cache_->Put(**call);
  return call;
}

Result<std::optional<engine::Call>> SqliteTxn::FindCallByEdgeId(Id account_id,
                                                                std::string_view edge_call_id) {
  Stmt s = db_.Prepare(kSelectCallByEdgeId.c_str());
  s.Bind(1, account_id).Bind(2, edge_call_id);
  return OneCall(s);
}

Result<std::vector<engine::Call>> SqliteTxn::ListCalls(const CallFilter& f) {
  std::vector<engine::Call> out;
  {
    Stmt s = db_.Prepare(kSelectCalls.c_str());
    s.Bind(1, f.account_id).Bind(2, f.campaign_id);
    if (f.status)
      s.Bind(3, static_cast<int64_t>(*f.status));
    else
      s.BindNull(3);
    if (f.converted)
      s.Bind(4, static_cast<int64_t>(*f.converted));
    else
      s.BindNull(4);
    s.Bind(5, f.since).Bind(6, f.until).Bind(7, f.before_id).Bind(8, int64_t{f.limit});
    while (s.Step()) out.push_back(ReadCallRow(s));
    if (auto st = s.status(); !st) return std::move(st).error();
  }
  for (auto& c : out) {
    if (auto t = LoadTags(c); !t) return std::move(t).error();
  }
  return out;
}

Result<std::vector<PostbackLog>> SqliteTxn::ListPostbacks(Id call_id, int limit) {
  std::vector<PostbackLog> out;
  Stmt s = db_.Prepare(kSelectPostbacks);
  s.Bind(1, call_id).Bind(2, int64_t{limit});
  while (s.Step()) {
    out.push_back(
        PostbackLog{s.Int(0), s.Text(1), s.Text(2), s.Text(3), static_cast<int>(s.Int(4))});
  }
  return Finish(s, std::move(out));
}

Result<PostbackCounts> SqliteTxn::CountPostbacks(Id call_id) {
  Stmt s = db_.Prepare(kCountPostbacks);
  s.Bind(1, call_id);
  PostbackCounts out;
  if (s.Step()) out = PostbackCounts{s.Int(0), s.Int(1)};
  return Finish(s, out);
}

Result<std::vector<EffectRow>> SqliteTxn::ListEffects(Id call_id) {
  Stmt s = db_.Prepare(kSelectEffects);
  s.Bind(1, call_id);
  std::vector<EffectRow> out;
  if (s.Step()) {
    auto effects = DecodeEffects(s.Text(1), s.Text(0));
    if (!effects)
      return core::Internal("the effects of call " + std::to_string(call_id) + " are unreadable");
    out = std::move(*effects);
  }
  return Finish(s, std::move(out));
}

Result<std::optional<engine::PreviousCall>> SqliteTxn::FindPreviousCall(Id account_id,
                                                                        Id campaign_id,
                                                                        std::string_view caller,
                                                                        core::Millis since,
                                                                        core::Millis until) {
  std::optional<engine::Call> prev;
  {
    Stmt s = db_.Prepare(kPreviousCall);
    s.Bind(1, account_id).Bind(2, campaign_id).Bind(3, caller).Bind(4, since).Bind(5, until);
    if (s.Step()) {
      prev.emplace();
      prev->id = s.Int(0);
      prev->buyer_id = s.OptInt(1);
    }
    if (auto st = s.status(); !st) return std::move(st).error();
  }
  if (!prev) return std::optional<engine::PreviousCall>();
  if (auto t = LoadTags(*prev); !t) return std::move(t).error();
  return std::optional<engine::PreviousCall>(
      engine::PreviousCall{prev->buyer_id, std::move(prev->tags)});
}

Result<std::map<Id, int64_t>> SqliteTxn::LiveCallsByBuyer(Id account_id) {
  std::map<Id, int64_t> out;
  Stmt s = db_.Prepare(kLiveByBuyer);
  s.Bind(1, account_id);
  while (s.Step()) out[s.Int(0)] = s.Int(1);
  return Finish(s, std::move(out));
}

Result<std::vector<std::pair<std::string, core::Millis>>> SqliteTxn::ClaimDueDeadlines(
    core::Millis now, core::Millis lease_until, int limit) {
  std::vector<std::pair<std::string, core::Millis>> out;
  std::vector<Id> ids;
  {
    Stmt s = db_.Prepare(kDueDeadlines);
    s.Bind(1, now).Bind(2, int64_t{limit});
    while (s.Step()) ids.push_back(s.Int(0)), out.emplace_back(s.Text(1), s.Int(2));
    if (auto st = s.status(); !st) return std::move(st).error();
  }
  for (Id id : ids) {
    Stmt s = db_.Prepare(kLeaseDeadline);
    s.Bind(1, lease_until).Bind(2, id);
    if (auto st = s.Run(); !st) return std::move(st).error();
  }
  return out;
}

Result<std::map<std::string, int64_t>> SqliteTxn::CountCallsByStatus() {
  std::map<std::string, int64_t> out;
  Stmt s = db_.Prepare(kCountByStatus);
  while (s.Step()) out[engine::ToString(static_cast<engine::Status>(s.Int(0)))] = s.Int(1);
  return Finish(s, std::move(out));
}

Result<DeadlineCounts> SqliteTxn::CountDeadlines(core::Millis now) {
  DeadlineCounts out;
  Stmt s = db_.Prepare(kCountDeadlines);
  s.Bind(1, now);
  if (s.Step()) {
    out.pending = s.Int(0);
    out.due = s.Int(1);
    if (!s.IsNull(2)) out.oldest_due = s.Int(2);
  }
  return Finish(s, std::move(out));
}

Result<void> SqliteTxn::SaveCall(engine::Call& c, engine::Outcome& out) {
  const bool row_written = c.id == 0 || out.call_changed;
  if (row_written) {
    Stmt s = db_.Prepare(c.id == 0 ? kInsertCall : kUpdateCall);
    s.Bind(1, c.uuid).Bind(2, c.account_id).Bind(3, c.campaign_id).Bind(4, c.publisher_id);
    s.Bind(5, c.buyer_id).Bind(6, c.number_id).Bind(7, c.number).Bind(8, c.caller_number);
    s.Bind(9, int64_t{c.repeat}).Bind(10, static_cast<int64_t>(c.status)).Bind(11, c.started_at);
    s.Bind(12, c.routed_at).Bind(13, c.answered_at).Bind(14, c.ended_at);
    s.Bind(15, c.duration_seconds).Bind(16, c.hung_up_by);
    s.Bind(17, static_cast<int64_t>(c.conversion.state)).Bind(18, c.conversion.group_id);
    s.Bind(19, Cents(c.conversion.revenue)).Bind(20, Cents(c.conversion.payout));
    s.Bind(21, int64_t{c.conversion.late}).Bind(22, c.conversion.deadline_at);
    s.Bind(23, c.conversion.decided_at);
    if (!c.early_postbacks.empty())
      s.BindBlob(24, EncodeEarlyPostbacks(c.early_postbacks));
    else
      s.BindNull(24);
    if (c.id != 0) {
      s.Bind(25, c.id);
    } else if (c.edge_call_id.empty()) {
      s.BindNull(26);
    } else {
      s.Bind(26, c.edge_call_id);
    }
    s.Bind(27, EncodeEffects(out.effects));
    if (auto st = s.Run(); !st) return st;
    if (c.id == 0) c.id = sqlite3_last_insert_rowid(db_.handle());
  } else if (!out.effects.empty()) {
    Stmt s = db_.Prepare(kAppendEffects);
    s.Bind(1, EncodeEffects(out.effects)).Bind(2, c.id);
    if (auto st = s.Run(); !st) return st;
  }
  // New tags are the last ones of call.tags; seq is a tag's position on its call.
  int64_t seq = static_cast<int64_t>(c.tags.size() - out.new_tags.size());
  for (const auto& t : out.new_tags) {
    Stmt s = db_.Prepare(kInsertTag);
    s.Bind(1, c.id).Bind(2, seq++).Bind(3, t.key).Bind(4, t.value);
    s.Bind(5, static_cast<int64_t>(t.source)).Bind(6, int64_t{t.carried}).Bind(7, t.at);
    s.Bind(8, t.publisher_id);
    if (auto st = s.Run(); !st) return st;
  }
  for (auto& d : out.deliveries) {
    Stmt s = db_.Prepare(kInsertDelivery);
    s.Bind(1, c.account_id).Bind(2, c.id).Bind(3, d.group_id).Bind(4, int64_t{d.request_index});
    s.Bind(5, d.trigger).Bind(6, d.webhook_id).Bind(7, d.at).Bind(8, d.lease_until);
    if (auto st = s.Run(); !st) return st;
    d.id = sqlite3_last_insert_rowid(db_.handle());
  }
  if (out.timer == engine::Outcome::Timer::kSet) {
    Stmt s = db_.Prepare(kSetDeadline);
    s.Bind(1, c.id).Bind(2, out.timer_at);
    if (auto st = s.Run(); !st) return st;
  } else if (out.timer == engine::Outcome::Timer::kClear) {
    Stmt s = db_.Prepare(kClearDeadline);
    s.Bind(1, c.id);
    if (auto st = s.Run(); !st) return st;
  }
  if (cache_ != nullptr) {
    // The cache holds what the database holds: the row only when it was written.
    if (row_written) {
      cache_->PutSaved(c);
    } else {
      cache_->PutSavedTags(c, out.new_tags.size());
    }
  }
  return {};
}

Result<std::optional<engine::Call>> SqliteTxn::FindRecentCallByCaller(Id account_id,
                                                                      std::string_view caller,
                                                                      core::Millis ended_since) {
  Stmt s = db_.Prepare(kRecentCallByCaller.c_str());
  s.Bind(1, account_id).Bind(2, caller).Bind(3, ended_since);
  return OneCall(s);
}

Result<void> SqliteTxn::InsertPrecallTags(Id account_id, Id publisher_id, std::string_view caller,
                                          const engine::Params& tags, core::Millis now,
                                          core::Millis expires_at) {
  // Room first, before a row is written: a unit that fails after writing sends its whole group
  // back to run again.
  int64_t waiting = 0;
  {
    Stmt c = db_.Prepare(kCountPrecallTags);
    c.Bind(1, account_id).Bind(2, caller).Bind(3, now);
    waiting = c.Step() ? c.Int(0) : 0;
    if (auto st = c.status(); !st) return st;
  }
  std::set<std::pair<std::string_view, std::string_view>> seen;
  for (const auto& [k, v] : tags) {
    if (!seen.emplace(k, v).second) continue;
    Stmt e = db_.Prepare(kPrecallTagStored);
    e.Bind(1, account_id).Bind(2, caller).Bind(3, publisher_id).Bind(4, k).Bind(5, v);
    e.Bind(6, now);
    if (!e.Step()) ++waiting;
    if (auto st = e.status(); !st) return st;
  }
  if (auto room = CheckPrecallRoom(waiting); !room) return room;
  for (const auto& [k, v] : tags) {
    {
      Stmt r = db_.Prepare(kRefreshPrecallTag);
      r.Bind(1, expires_at).Bind(2, account_id).Bind(3, caller).Bind(4, publisher_id);
      r.Bind(5, k).Bind(6, v).Bind(7, now);
      if (auto st = r.Run(); !st) return st;
      if (sqlite3_changes(db_.handle()) > 0) continue;
    }
    Stmt s = db_.Prepare(kInsertPrecallTag);
    s.Bind(1, account_id).Bind(2, publisher_id).Bind(3, caller).Bind(4, k).Bind(5, v);
    s.Bind(6, now).Bind(7, expires_at);
    if (auto st = s.Run(); !st) return st;
  }
  return {};
}

Result<std::vector<PrecallTag>> SqliteTxn::TakePrecallTags(Id account_id, std::string_view caller,
                                                           core::Millis now) {
  std::vector<PrecallTag> out;
  {
    Stmt s = db_.Prepare(kSelectPrecallTags);
    s.Bind(1, account_id).Bind(2, caller).Bind(3, now).Bind(4, kMaxPrecallTags);
    while (s.Step()) out.push_back(PrecallTag{s.Int(0), s.Text(1), s.Text(2), s.Int(3)});
    if (auto st = s.status(); !st) return std::move(st).error();
  }
  if (out.empty()) return out;  // most callers have none: no DELETE to run
  Stmt d = db_.Prepare(kDeletePrecallTagsOfCaller);
  d.Bind(1, account_id).Bind(2, caller);
  if (auto st = d.Run(); !st) return std::move(st).error();
  return out;
}

Result<int64_t> SqliteTxn::DeleteExpiredPrecallTags(core::Millis now) {
  Stmt s = db_.Prepare(kDeleteExpiredPrecallTags);
  s.Bind(1, now);
  if (auto st = s.Run(); !st) return std::move(st).error();
  return static_cast<int64_t>(sqlite3_changes(db_.handle()));
}

Result<void> SqliteTxn::AppendPostback(Id call_id, const PostbackLog& e) {
  Stmt s = db_.Prepare(kInsertPostback);
  s.Bind(1, call_id).Bind(2, e.at).Bind(3, e.method).Bind(4, e.params_json).Bind(5, e.outcome);
  s.Bind(6, int64_t{e.http_status});
  return s.Run();
}

Result<void> SqliteTxn::LoadTags(engine::Call& c) {
  Stmt s = db_.Prepare(kSelectTags);
  s.Bind(1, c.id);
  while (s.Step()) {
    c.tags.push_back(engine::Tag{s.Text(0), s.Text(1), static_cast<engine::TagSource>(s.Int(2)),
                                 s.Int(4), s.Int(3) != 0, s.OptInt(5)});
  }
  return s.status();
}

Result<std::vector<std::string>> SqliteTxn::ListOpenCalls(core::Millis started_before, int limit) {
  std::vector<std::string> out;
  Stmt s = db_.Prepare(kOpenCalls);
  s.Bind(1, started_before).Bind(2, int64_t{limit});
  while (s.Step()) out.push_back(s.Text(0));
  return Finish(s, std::move(out));
}

Result<std::optional<engine::Call>> SqliteTxn::OneCall(Stmt& s) {
  std::optional<engine::Call> call;
  if (s.Step()) call = ReadCallRow(s);
  if (auto st = s.status(); !st) return std::move(st).error();
  if (call) {
    if (auto t = LoadTags(*call); !t) return std::move(t).error();
  }
  return call;
}

}  // namespace store
