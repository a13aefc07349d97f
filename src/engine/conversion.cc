#include "engine/conversion.h"

#include <strings.h>

#include <algorithm>
#include <map>

namespace engine {

namespace {

using config::ConversionGroup;
using config::ConversionType;

const ConversionGroup* FindGroup(const Context& ctx, const std::optional<Id>& id) {
  if (!id) return nullptr;
  auto it = ctx.config.conversion_groups.find(*id);
  return it == ctx.config.conversion_groups.end() ? nullptr : &it->second;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// The keyword is present when a parameter is named after it ("&sale", "&sale=1") or a
// parameter's value is the keyword ("&result=sale"), ignoring case.
bool HasKeyword(const Params& params, std::string_view keyword) {
  for (const auto& [k, v] : params) {
    if (EqualsIgnoreCase(k, keyword) || EqualsIgnoreCase(v, keyword)) return true;
  }
  return false;
}

// The conversion `params` carry for `group`, or an error for a malformed value.
core::Result<PostedConversion> ForGroup(const ConversionGroup& group, const Params& params) {
  PostedConversion c;
  c.group_id = group.id;
  switch (group.type) {
    case ConversionType::kDuration:
      return c;
    case ConversionType::kPostbackTrigger:
      if (HasKeyword(params, group.trigger)) {
        c.kind = PostedConversion::kConvert;
        c.revenue = group.revenue;
        c.payout = group.payout;
      }
      return c;
    case ConversionType::kPostbackValue:
      // The first value counts; every one must be an amount (value=1&value=abc is bad input).
      for (const auto& [k, v] : params) {
        // An empty value ("value=" from a template with nothing to fill) converts nothing.
        if (k != group.value_param || v.empty()) continue;
        auto revenue = core::Money::ParseDecimal(v);
        if (!revenue) {
          return core::InvalidArgument(
              k + ": must be an amount such as 12.50 (" + revenue.error().message + ")", k);
        }
        if (c.kind == PostedConversion::kConvert) continue;
        c.kind = PostedConversion::kConvert;
        c.revenue = core::Money::Round(*revenue);
        c.payout = group.payout_modifier.Apply(*revenue);  // from the amount as posted
      }
      return c;
  }
  return c;
}

void Complete(Call& call, ConversionState state, core::Millis at, Outcome& out) {
  call.conversion.state = state;
  call.conversion.decided_at = at;
  call.status = Status::kCompleted;
  out.effects.push_back(Effect{"completed", at});
  out.effects.push_back(
      Effect{state == ConversionState::kConverted ? "converted" : "not_converted", at});
  out.changed = out.call_changed = true;
}

// The first postback kept while the group was not known that converts in `group` (nullopt if
// none does), as its conversion.
std::optional<PostedConversion> FirstKeptFor(const Call& call, const ConversionGroup& group) {
  for (const Params& kept : call.early_postbacks) {
    auto c = ForGroup(group, kept);
    if (c && c->kind == PostedConversion::kConvert) return *c;
  }
  return std::nullopt;
}

void DropKept(Call& call, Outcome& out) {
  if (call.early_postbacks.empty()) return;
  call.early_postbacks.clear();
  out.changed = out.call_changed = true;
}

void Convert(Call& call, const PostedConversion& c, core::Millis at, Outcome& out) {
  call.conversion.revenue = c.revenue;
  call.conversion.payout = c.payout;
  call.early_postbacks.clear();
  if (call.conversion.state == ConversionState::kNotConverted) {
    // After the deadline: converted all the same, flagged late; only `converted` fires. Never
    // decided before the decision it follows (another node may have decided the deadline first,
    // while this postback, arriving just before it, waited for the call).
    const core::Millis decided = std::max(at, call.conversion.decided_at.value_or(at));
    call.conversion.state = ConversionState::kConverted;
    call.conversion.late = true;
    call.conversion.decided_at = decided;
    out.effects.push_back(Effect{"converted", decided});
    out.changed = out.call_changed = true;
    return;
  }
  if (call.conversion.state == ConversionState::kAwaitingPostback) {
    out.timer = Outcome::Timer::kClear;
  }
  Complete(call, ConversionState::kConverted, at, out);
}

}  // namespace

bool GroupMatches(const ConversionGroup& group, const Call& call) {
  return FilterMatches(group.matches, call);
}

bool FilterMatches(const core::TagFilter& filter, const Call& call) {
  return filter.empty() || TagIndex(call).Matches(filter);
}

TagIndex::TagIndex(const Call& call) {
  for (const auto& t : call.tags) tags_[t.key].push_back(t.value);
}

bool TagIndex::Matches(const core::TagFilter& filter) const {
  if (filter.empty()) return true;
  return filter.Matches([&](std::string_view key) -> const std::vector<std::string>* {
    // The aliases always mean the system tags, so a tag posted under the same name cannot
    // steer which group a call belongs to.
    auto it = tags_.find(core::TagOfKey(key));
    return it == tags_.end() ? nullptr : &it->second;
  });
}

core::Result<PostedConversion> ReadConversion(const Call& call, const Params& params,
                                              const Context& ctx) {
  // The group is not known yet: the call is live, or it was answered and ended before its buyer
  // was known, and no group fitted it then (a `routed` still to come chooses one,
  // ReviseForLateRoute).
  const bool group_unknown = call.status < Status::kEnded ||
                             (call.answered_at && !call.routed_at && !call.conversion.group_id &&
                              call.conversion.state == ConversionState::kNotConverted);
  if (group_unknown) {
    // Validate against every postback group of the campaign (a malformed value is refused at
    // once) and keep the postback if it converts in a group where no postback kept before it
    // does: the first conversion in the group chosen later wins, whatever the other groups'
    // keywords or values made of the postbacks before it.
    bool converts = false;
    bool first_in_a_group = false;
    for (const ConversionGroup* g : ctx.config.ConversionGroupsOf(call.campaign_id)) {
      auto c = ForGroup(*g, params);
      if (!c) return c;
      if (c->kind != PostedConversion::kConvert) continue;
      converts = true;
      if (!FirstKeptFor(call, *g)) first_in_a_group = true;
    }
    PostedConversion early;
    if (converts) {
      early.kind =
          first_in_a_group ? PostedConversion::kEarly : PostedConversion::kAlreadyConverted;
    }
    return early;
  }
  const ConversionGroup* group = FindGroup(ctx, call.conversion.group_id);
  if (group == nullptr) return PostedConversion{};
  auto c = ForGroup(*group, params);
  if (c && c->kind == PostedConversion::kConvert &&
      call.conversion.state == ConversionState::kConverted) {
    c->kind = PostedConversion::kAlreadyConverted;
  }
  return c;
}

void ApplyConversion(Call& call, const PostedConversion& c, const Params& params,
                     const Context& ctx, Outcome& out) {
  if (c.kind == PostedConversion::kEarly) {
    call.early_postbacks.push_back(params);
    out.changed = out.call_changed = true;
  } else if (c.kind == PostedConversion::kConvert) {
    Convert(call, c, ctx.now, out);
  }
}

namespace {

// The call's conversion group: the first of its campaign's groups whose filter fits it.
const ConversionGroup* MatchingGroup(const Call& call, const Context& ctx) {
  const TagIndex tags(call);
  for (const ConversionGroup* g : ctx.config.ConversionGroupsOf(call.campaign_id)) {
    if (tags.Matches(g->matches)) return g;
  }
  return nullptr;
}

}  // namespace

void DecideFailed(Call& call, const Context& ctx, Outcome& out) {
  call.early_postbacks.clear();
  if (const ConversionGroup* group = MatchingGroup(call, ctx)) {
    call.conversion.group_id = group->id;
  }
  Complete(call, ConversionState::kNotConverted, *call.ended_at, out);
}

namespace {

// A call decided not converted converts late in its duration group once it is known to have
// been answered for the group's seconds (an event that came after the end told so).
void ConvertLateByDuration(Call& call, const ConversionGroup& group, const Context& ctx,
                           Outcome& out) {
  if (group.type != ConversionType::kDuration || !call.answered_at ||
      call.duration_seconds.value_or(0) < group.seconds) {
    return;
  }
  PostedConversion c;
  c.kind = PostedConversion::kConvert;
  c.group_id = group.id;
  c.revenue = group.revenue;
  c.payout = group.payout;
  Convert(call, c, ctx.now, out);
}

}  // namespace

void ReviseForLateAnswer(Call& call, const Context& ctx, Outcome& out) {
  if (!call.ended_at || !call.answered_at || call.duration_seconds.value_or(0) != 0 ||
      call.hung_up_by == kHungUpStale) {
    return;  // a duration known, or none to know (an assumed end)
  }
  call.duration_seconds = std::max<int64_t>(0, (*call.ended_at - *call.answered_at) / 1000);
  out.changed = out.call_changed = true;
  if (call.conversion.state != ConversionState::kNotConverted) return;
  if (const ConversionGroup* group = FindGroup(ctx, call.conversion.group_id)) {
    ConvertLateByDuration(call, *group, ctx, out);
  }
}

void ReviseForLateRoute(Call& call, const Context& ctx, Outcome& out) {
  if (!call.ended_at) return;
  const ConversionGroup* group = MatchingGroup(call, ctx);
  const std::optional<Id> chosen = group ? std::optional<Id>(group->id) : std::nullopt;
  if (call.conversion.state == ConversionState::kAwaitingPostback) {
    if (chosen != call.conversion.group_id) {
      call.conversion.group_id.reset();
      call.conversion.deadline_at.reset();
      out.timer = Outcome::Timer::kClear;  // DecideAtEnd sets the new deadline if it waits
      out.changed = out.call_changed = true;
      DecideAtEnd(call, ctx, out);  // a postback kept from during the call may convert it
    }
  } else if (call.conversion.state == ConversionState::kNotConverted && !call.conversion.group_id &&
             group != nullptr) {
    call.conversion.group_id = group->id;
    out.changed = out.call_changed = true;
    ConvertLateByDuration(call, *group, ctx, out);
    if (group->IsPostback() && call.conversion.state == ConversionState::kNotConverted) {
      if (auto c = FirstKeptFor(call, *group)) Convert(call, *c, ctx.now, out);
    }
  }
  // The buyer is known now: nothing else can take a postback kept while the group was not.
  DropKept(call, out);
}

void DecideAtEnd(Call& call, const Context& ctx, Outcome& out) {
  const core::Millis end = *call.ended_at;
  const ConversionGroup* group = MatchingGroup(call, ctx);
  // A postback kept from during the call that nothing takes now is dropped, unless the buyer is
  // not known yet: a `routed` still to come may choose a group it fits (ReviseForLateRoute).
  const bool drop_early = call.routed_at.has_value();
  if (drop_early && (group == nullptr || group->type == ConversionType::kDuration)) {
    call.early_postbacks.clear();  // nothing in this call can convert by postback
  }
  if (group == nullptr) {
    Complete(call, ConversionState::kNotConverted, end, out);
    return;
  }
  call.conversion.group_id = group->id;
  if (group->type == ConversionType::kDuration) {
    bool converted = call.answered_at && call.duration_seconds.value_or(0) >= group->seconds;
    if (converted) {
      call.conversion.revenue = group->revenue;
      call.conversion.payout = group->payout;
    }
    Complete(call, converted ? ConversionState::kConverted : ConversionState::kNotConverted, end,
             out);
    return;
  }
  if (auto c = FirstKeptFor(call, *group)) {
    Convert(call, *c, end, out);
    return;
  }
  if (drop_early) call.early_postbacks.clear();  // none converts in the call's group
  call.conversion.deadline_at = end + group->postback_timeout_seconds * 1000;
  if (*call.conversion.deadline_at <= ctx.now && group->postback_timeout_seconds == 0) {
    Complete(call, ConversionState::kNotConverted, end, out);
    return;
  }
  call.conversion.state = ConversionState::kAwaitingPostback;
  out.timer = Outcome::Timer::kSet;
  out.timer_at = *call.conversion.deadline_at;
  out.changed = out.call_changed = true;
}

}  // namespace engine
