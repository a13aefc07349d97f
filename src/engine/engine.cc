#include "engine/engine.h"

#include <algorithm>
#include <set>
#include <utility>

#include "core/ids.h"
#include "engine/conversion.h"

namespace engine {

using config::Snapshot;

core::Result<void> ValidateTag(std::string_view key, std::string_view value) {
  if (key.empty() || key.size() > kMaxTagBytes) {
    return core::InvalidArgument("tag keys must be 1-255 bytes", std::string(key.substr(0, 64)));
  }
  if (!core::IsValidUtf8(key) || !core::IsValidUtf8(value)) {
    return core::InvalidArgument("tags must be valid UTF-8", std::string(key));
  }
  // The key's characters are checked before any message names the key.
  for (size_t i = 0; i < key.size(); ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    const auto next = i + 1 < key.size() ? static_cast<unsigned char>(key[i + 1]) : 0;
    const auto third = i + 2 < key.size() ? static_cast<unsigned char>(key[i + 2]) : 0;
    const bool c1_control = c == 0xc2 && next >= 0x80 && next <= 0x9f;  // U+0080-U+009F
    const bool line_sep =
        c == 0xe2 && next == 0x80 && (third == 0xa8 || third == 0xa9);  // U+2028/9
    if (c < 0x20 || c == 0x7f || c1_control || line_sep || c == '[' || c == ']' || c == ',' ||
        c == ':') {
      return core::InvalidArgument(
          "tag keys must not contain control characters, brackets, commas or colons");
    }
  }
  if (value.size() > kMaxTagBytes) {
    return core::InvalidArgument("tag " + std::string(key) + ": values must be at most 255 bytes",
                                 std::string(key));
  }
  // A NUL would end the value early in a C string (PostgreSQL takes its parameters so).
  if (value.find('\0') != std::string_view::npos) {
    return core::InvalidArgument("tag " + std::string(key) + ": values must not contain a NUL byte",
                                 std::string(key));
  }
  if (key.rfind("system_", 0) == 0 || key == "caller_number") {
    return core::InvalidArgument("tag " + std::string(key) + " is reserved for callpost",
                                 std::string(key));
  }
  return {};
}

void AddTag(Call& call, std::string_view key, std::string_view value, TagSource source,
            core::Millis at, Outcome& out) {
  if (call.HasTag(key, value)) return;
  Tag t{std::string(key), std::string(value), source, at};
  call.tags.push_back(t);
  out.new_tags.push_back(std::move(t));
  out.changed = true;
}

size_t CountNewTags(const Call& call, const Params& params) {
  std::set<std::pair<std::string_view, std::string_view>> fresh;
  for (const auto& [k, v] : params) {
    if (!v.empty()) fresh.emplace(k, v);
  }
  for (const auto& t : call.tags) {
    if (fresh.empty()) break;
    fresh.erase({t.key, t.value});
  }
  return fresh.size();
}

Params DistinctPairs(const Params& params) {
  Params out;
  for (const auto& pair : params) {
    if (std::find(out.begin(), out.end(), pair) == out.end()) out.push_back(pair);
  }
  return out;
}

core::Result<void> CheckTagRoom(const Call& call, const Params& params) {
  // Every parameter fits: no need to look at which are new (the usual case, and the cheap one
  // on the writer thread).
  if (call.tags.size() + params.size() <= kMaxTagsPerCall) return {};
  if (call.tags.size() + CountNewTags(call, params) <= kMaxTagsPerCall) return {};
  return core::MakeError(core::ErrorCode::kUnprocessable,
                         "this call already holds the most tags a call may hold (2000)");
}

namespace {

void AddPublisherTag(Call& call, std::string_view key, std::string_view value, Id publisher_id,
                     core::Millis at, Outcome& out) {
  if (value.empty() || call.HasTag(key, value)) return;
  Tag t{std::string(key), std::string(value), TagSource::kPublisher, at, false, publisher_id};
  call.tags.push_back(t);
  out.new_tags.push_back(std::move(t));
  out.changed = true;
}

void SetSystemTag(Call& call, std::string_view key, std::string value, core::Millis at,
                  Outcome& out) {
  // System tags hold one value: routing a call to a buyer replaces nothing, it only adds.
  AddTag(call, key, value, TagSource::kSystem, at, out);
}

void Emit(Outcome& out, const char* trigger, core::Millis at) {
  out.effects.push_back(Effect{trigger, at});
  out.changed = out.call_changed = true;
}

// The deliveries of `trigger`, an effect recorded before this step, for the webhook groups that
// fit the call now and did not fit it `before` (as the call was when the trigger fired).
// One delivery per request of every enabled webhook group of the call's campaign for `trigger`
// whose filter `tags` fits, leaving out those `fitted_before` fitted too (a late route: they had
// theirs when the trigger fired).
void PlanTrigger(const Call& call, const TagIndex& tags, const TagIndex* fitted_before,
                 const std::string& trigger, core::Millis at, const Context& ctx, Outcome& out) {
  for (const config::WebhookGroup* g : ctx.config.WebhookGroupsOf(call.campaign_id)) {
    if (!g->enabled || g->trigger != trigger || !tags.Matches(g->matches) ||
        (fitted_before != nullptr && fitted_before->Matches(g->matches))) {
      continue;
    }
    for (size_t i = 0; i < g->requests.size(); ++i) {
      out.deliveries.push_back(PlannedDelivery{g->id, static_cast<int>(i), trigger, at, {}});
    }
  }
}

void Route(Call& call, Id buyer_id, core::Millis at, Outcome& out) {
  call.buyer_id = buyer_id;
  call.routed_at = at;
  call.status = std::max(call.status, Status::kRouted);
  SetSystemTag(call, "system_buyer_id", std::to_string(buyer_id), at, out);
  Emit(out, "routed", at);
}

}  // namespace

Call StartCall(std::string uuid, const StartInput& in, const std::optional<PreviousCall>& previous,
               const Context& ctx, Outcome& out) {
  Call call;
  call.uuid = std::move(uuid);
  call.account_id = ctx.account.id;
  call.campaign_id = in.campaign->id;
  call.caller_number = in.caller_number;
  // A start time ahead of the server's clock is taken as now, as an event's is (ApplyEvent).
  const core::Millis at = std::min(in.at, ctx.now);
  call.started_at = at;
  call.publisher_id = in.publisher_id;
  if (in.number != nullptr) {
    call.number_id = in.number->id;
    call.number = in.number->number;
    if (!call.publisher_id) call.publisher_id = in.number->publisher_id;
  }
  call.repeat = previous.has_value();

  SetSystemTag(call, "system_campaign_id", std::to_string(call.campaign_id), at, out);
  if (call.publisher_id) {
    SetSystemTag(call, "system_publisher_id", std::to_string(*call.publisher_id), at, out);
  }
  if (call.number_id) {
    SetSystemTag(call, "system_number_id", std::to_string(*call.number_id), at, out);
  }
  if (!call.caller_number.empty()) {
    SetSystemTag(call, "caller_number", call.caller_number, at, out);
  }
  if (in.number != nullptr) {
    for (const auto& [k, v] : in.number->tags) AddTag(call, k, v, TagSource::kNumber, at, out);
  }
  for (const auto& [k, v] : in.edge_tags) AddTag(call, k, v, TagSource::kEdge, at, out);
  for (const auto& t : in.publisher_tags)
    AddPublisherTag(call, t.key, t.value, t.publisher_id, at, out);
  if (previous) {
    std::vector<const Tag*> carry;
    std::set<std::pair<std::string_view, std::string_view>> seen;
    for (const auto& t : previous->tags) {
      if (t.source == TagSource::kSystem || t.source == TagSource::kNumber) continue;
      if (t.source == TagSource::kPostback && !ctx.account.carry_over_postback_tags) continue;
      if (call.HasTag(t.key, t.value) || !seen.emplace(t.key, t.value).second) continue;
      carry.push_back(&t);
    }
    // The most recent ones when they do not all fit, in their order: a call that could not
    // take its buyer's conversion postback for want of room would lose it.
    const size_t room = kMaxTagsAfterCarryOver - std::min(call.tags.size(), kMaxTagsAfterCarryOver);
    for (size_t i = carry.size() - std::min(carry.size(), room); i < carry.size(); ++i) {
      const Tag& t = *carry[i];
      Tag carried{t.key, t.value, t.source, at, true, t.publisher_id};
      call.tags.push_back(carried);
      out.new_tags.push_back(std::move(carried));
    }
  }
  Emit(out, "started", at);
  return call;
}

std::optional<Id> ChooseBuyer(const Call& call, const std::optional<PreviousCall>& previous,
                              const std::map<Id, int64_t>& live_calls, uint64_t random,
                              const Context& ctx, bool sip_only) {
  const config::Campaign* campaign =
      Snapshot::Find(ctx.config.campaigns, call.account_id, call.campaign_id);
  if (campaign == nullptr) return std::nullopt;
  auto available = [&](Id buyer_id) {
    const config::Buyer* b = Snapshot::Find(ctx.config.buyers, call.account_id, buyer_id);
    if (b == nullptr || (sip_only && !b->HasSipAddress())) return false;
    auto it = live_calls.find(buyer_id);
    int64_t live = it == live_calls.end() ? 0 : it->second;
    return !b->concurrency_cap || live < *b->concurrency_cap;
  };
  std::optional<Id> previous_buyer = previous ? previous->buyer_id : std::nullopt;
  const auto route = campaign->repeat_callers.route;
  if (previous_buyer && route == config::RepeatRoute::kSameBuyer) {
    for (const auto& cb : campaign->buyers) {
      if (cb.buyer_id == *previous_buyer && available(cb.buyer_id)) return cb.buyer_id;
    }
  }
  // Candidates in priority order; a new_buyer repeat skips the previous buyer while any other
  // buyer can take the call.
  std::vector<config::CampaignBuyer> order(campaign->buyers);
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.priority < b.priority; });
  // Pass 0 avoids this buyer (none when it is not a new_buyer repeat); pass 1 may take it.
  const std::optional<Id> avoid_buyer =
      route == config::RepeatRoute::kNewBuyer ? previous_buyer : std::nullopt;
  for (int pass = 0; pass < 2; ++pass) {
    const bool avoid = pass == 0 && avoid_buyer.has_value();
    if (pass == 1 && !avoid_buyer) break;
    const Id avoided = avoid_buyer.value_or(Id{});
    for (size_t i = 0; i < order.size();) {
      size_t j = i;
      int64_t total = 0;
      std::vector<const config::CampaignBuyer*> tier;
      for (; j < order.size() && order[j].priority == order[i].priority; ++j) {
        if ((avoid && order[j].buyer_id == avoided) || !available(order[j].buyer_id)) {
          continue;
        }
        tier.push_back(&order[j]);
        total += order[j].weight;
      }
      if (!tier.empty()) {
        uint64_t pick = random % static_cast<uint64_t>(total);
        for (const auto* cb : tier) {
          if (pick < static_cast<uint64_t>(cb->weight)) return cb->buyer_id;
          pick -= static_cast<uint64_t>(cb->weight);
        }
      }
      i = j;
    }
  }
  return std::nullopt;
}

core::Result<Outcome> ApplyEvent(Call& call, const Event& event, const Context& ctx) {
  Outcome out;
  // An edge's clock is not the call's order: nothing happens to a call before it started, and
  // a time still to come is taken as now (work is never held for it).
  Event e = event;
  e.at = std::clamp(e.at, call.started_at, std::max(call.started_at, ctx.now));
  switch (e.type) {
    case EventType::kRouted:
      // Bad input is refused even when the event repeats.
      if (!e.buyer_id) return core::InvalidArgument("buyer_id: is required", "buyer_id");
      if (!Snapshot::Find(ctx.config.buyers, call.account_id, *e.buyer_id)) {
        return core::InvalidArgument("buyer_id: no buyer with id " + std::to_string(*e.buyer_id),
                                     "buyer_id");
      }
      if (call.routed_at) return out;  // repeated: acknowledged, nothing changes
      {
        // After `answered` or `ended` (their retries got through first): the webhook groups of
        // those triggers that the buyer's tag makes fit now get their deliveries now, as they
        // would have in order (the answered ping is how a buyer learns the call key). A route in
        // order (the usual one, on every routed call) indexes no tags for it.
        std::optional<TagIndex> before;
        if (call.answered_at || call.ended_at) before.emplace(call);
        // After `ended`: never later than the end, and the conversion group is chosen again
        // with the buyer's tag.
        Route(call, *e.buyer_id, call.ended_at ? std::min(e.at, *call.ended_at) : e.at, out);
        if (call.ended_at) ReviseForLateRoute(call, ctx, out);
        if (before) {
          const TagIndex now(call);
          if (call.answered_at) PlanTrigger(call, now, &*before, "answered", ctx.now, ctx, out);
          if (call.ended_at) PlanTrigger(call, now, &*before, "ended", ctx.now, ctx, out);
        }
      }
      return out;
    case EventType::kAnswered:
      if (call.answered_at) return out;
      // After `ended` (its retry got through first): never later than the end.
      call.answered_at = call.ended_at ? std::min(e.at, *call.ended_at) : e.at;
      call.status = std::max(call.status, Status::kAnswered);
      Emit(out, "answered", *call.answered_at);
      if (call.ended_at) ReviseForLateAnswer(call, ctx, out);
      return out;
    case EventType::kEnded:
      if (call.ended_at) return out;
      // Never before the answer or the route already recorded (the edge's clocks disagree):
      // the call's times stay in order, and the postback wait counts from the end in full.
      call.ended_at =
          std::max({e.at, call.routed_at.value_or(e.at), call.answered_at.value_or(e.at)});
      call.hung_up_by = e.hung_up_by;
      if (e.duration_seconds) {
        call.duration_seconds = e.duration_seconds;
      } else if (call.hung_up_by == kHungUpStale) {
        call.duration_seconds = 0;  // the end is assumed: the talk time is not known
      } else {
        call.duration_seconds =
            call.answered_at ? std::max<int64_t>(0, (*call.ended_at - *call.answered_at) / 1000)
                             : 0;
      }
      call.status = std::max(call.status, Status::kEnded);
      Emit(out, "ended", *call.ended_at);
      if (e.failed && !call.answered_at) {
        DecideFailed(call, ctx, out);  // nobody took the call: nothing to wait for
        return out;
      }
      DecideAtEnd(call, ctx, out);
      return out;
  }
  return out;
}

core::Result<PostbackResult> ApplyPostback(Call& call, const Params& params, const Context& ctx) {
  if (params.size() > kMaxTagsPerRequest) {
    return core::InvalidArgument("a postback may carry at most 100 tags");
  }
  for (const auto& [k, v] : params) {
    if (auto ok = ValidateTag(k, v); !ok) return std::move(ok).error();
  }
  auto conversion = ReadConversion(call, params, ctx);
  if (!conversion) return std::move(conversion).error();
  // An "already converted" postback adds no tag, so it never meets the limit.
  if (conversion->kind != PostedConversion::kAlreadyConverted) {
    if (auto room = CheckTagRoom(call, params); !room) return std::move(room).error();
  }

  PostbackResult result;
  // The wait ended before this postback came, though the deadline has not fired yet (it fires
  // within moments, or once the server is back after a stop): decided first, as it would have
  // been, so that the postback is late (docs/conversions.md).
  result.outcome = FireDeadline(call, ctx);
  // A bare parameter ("&sale") signals a keyword; it adds no tag. A pair given twice is applied,
  // and echoed, once.
  for (auto& pair : DistinctPairs(params)) {
    if (!pair.second.empty()) result.tag_values.push_back(std::move(pair));
  }
  if (conversion->kind == PostedConversion::kAlreadyConverted) {
    result.status = "already converted";  // the first conversion wins; nothing changes
    result.tag_values.clear();
    return result;
  }
  for (const auto& [k, v] : result.tag_values) {
    AddTag(call, k, v, TagSource::kPostback, ctx.now, result.outcome);
  }
  result.status = "tags applied";
  if (conversion->kind != PostedConversion::kNone) {
    ApplyConversion(call, *conversion, params, ctx, result.outcome);
    result.status = "conversion recorded";
  }
  return result;
}

}  // namespace engine

namespace engine {

Outcome FireDeadline(Call& call, const Context& ctx) {
  Outcome out;
  if (call.conversion.state != ConversionState::kAwaitingPostback || !call.conversion.deadline_at ||
      *call.conversion.deadline_at > ctx.now) {
    return out;
  }
  call.conversion.state = ConversionState::kNotConverted;
  call.conversion.decided_at = ctx.now;
  call.status = Status::kCompleted;
  out.effects.push_back(Effect{"completed", ctx.now});
  out.effects.push_back(Effect{"not_converted", ctx.now});
  out.timer = Outcome::Timer::kClear;
  out.changed = out.call_changed = true;
  return out;
}

}  // namespace engine

namespace engine {

void PlanDeliveries(const Call& call, const Context& ctx, Outcome& out) {
  const auto& groups = ctx.config.WebhookGroupsOf(call.campaign_id);
  if (groups.empty() || out.effects.empty()) return;
  const TagIndex tags(call);
  for (const Effect& e : out.effects) PlanTrigger(call, tags, nullptr, e.trigger, e.at, ctx, out);
}

}  // namespace engine

namespace engine {

core::Result<Outcome> ApplyPublisherTags(Call& call, const Params& tags, Id publisher_id,
                                         const Context& ctx) {
  if (tags.size() > kMaxTagsPerRequest) {
    return core::InvalidArgument("a request may carry at most 100 tags");
  }
  for (const auto& [k, v] : tags) {
    if (auto ok = ValidateTag(k, v); !ok) return std::move(ok).error();
  }
  if (auto room = CheckTagRoom(call, tags); !room) return std::move(room).error();
  Outcome out;
  for (const auto& [k, v] : tags) AddPublisherTag(call, k, v, publisher_id, ctx.now, out);
  return out;
}

}  // namespace engine
