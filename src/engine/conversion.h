// Conversion decisions: which conversion group a call belongs to, what a postback converts,
// and the postback wait. Internal to the engine (engine.h is the public surface).
#pragma once

#include <map>

#include "engine/engine.h"

namespace engine {

// What a postback says about conversion.
struct PostedConversion {
  enum Kind {
    kNone,              // tags only
    kConvert,           // converts the call now
    kEarly,             // the group is not known yet: keep the postback (Call::early_postbacks)
    kAlreadyConverted,  // a conversion was recorded before
  } kind = kNone;
  Id group_id = 0;
  core::Money revenue;
  core::Money payout;
};

// True when the group's filter fits the call's tags (FilterMatches in engine.h).
bool GroupMatches(const config::ConversionGroup& group, const Call& call);

// A call's tags by key, built once and tested against many filters (all conversion groups at
// the end, every webhook group of a step) as FilterMatches tests one. Refers to nothing of the
// call after construction.
class TagIndex {
 public:
  explicit TagIndex(const Call& call);
  bool Matches(const core::TagFilter& filter) const;

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> tags_;
};

// Reads the conversion a postback carries for this call. Errors for a value that is not an
// amount (nothing changes then).
core::Result<PostedConversion> ReadConversion(const Call& call, const Params& params,
                                              const Context& ctx);

// Records a conversion read by ReadConversion (kConvert or kEarly).
void ApplyConversion(Call& call, const PostedConversion& conversion, const Params& params,
                     const Context& ctx, Outcome& out);

// At call end: picks the call's group and either decides the call (no group, duration group,
// an early postback) or starts the postback wait with its deadline.
void DecideAtEnd(Call& call, const Context& ctx, Outcome& out);

// At the end of a call that never connected (busy, cancelled, no answer): not converted, at
// once, in the group that matches it (kept for reports, as for any call).
void DecideFailed(Call& call, const Context& ctx, Outcome& out);

// `answered` arrived after `ended` (an edge sends events again after an outage, in the order
// they get through): the duration the end took as 0 for want of an answer is computed again,
// and a duration group that decided "not converted" for want of it converts late, as a late
// postback does (only `converted` fires, flagged late).
void ReviseForLateAnswer(Call& call, const Context& ctx, Outcome& out);

// `routed` arrived after `ended`: the call's group is chosen again with the buyer's tag, as if
// the events had come in order, while that can still change the call. Awaiting a postback: a
// different group now is taken as at the end (a wait from the end with its timeout, or a
// decision now; no group: not converted), and a converting postback kept from during the call
// converts it if it fits the new group. Decided already: the decision stands (a call only
// moves forward), but one decided with no group gets the group that matches now, so that a
// later converting postback converts it late; a duration group it qualifies for, or a kept
// postback that fits, converts it late at once.
void ReviseForLateRoute(Call& call, const Context& ctx, Outcome& out);

}  // namespace engine
