// The call state machine. Applies a start, an event, a postback or a passed deadline to a call
// and says what changed (new tags, webhook effects, the postback timer). Pure: no IO, no clock
// reads (time arrives in the Context), no randomness (the router takes its random number), so
// every path is tested without disks, sockets or sleeps. Not thread-safe per call: the store
// serialises steps on one call.
#pragma once

#include <map>
#include <string>

#include "config/snapshot.h"
#include "core/result.h"
#include "engine/call.h"

namespace engine {

// What every step needs besides the call.
struct Context {
  const config::Snapshot& config;
  const config::Account& account;
  core::Millis now = 0;
};

// Limits on input from outside.
inline constexpr size_t kMaxTagBytes = 255;
inline constexpr size_t kMaxTagsPerRequest = 100;
inline constexpr size_t kMaxTagsPerCall = 2000;
// A repeat call starts with at most this many tags once the previous call's are copied: the
// rest of kMaxTagsPerCall stays for its own postbacks and data writing.
inline constexpr size_t kMaxTagsAfterCarryOver = kMaxTagsPerCall / 2;

// Validates one tag from outside (edge, postback, publisher): key 1-255 bytes of printable
// UTF-8, value at most 255 bytes of UTF-8 without a NUL byte, key not reserved (system_*,
// caller_number).
core::Result<void> ValidateTag(std::string_view key, std::string_view value);

// How many tag values `params` would really add to `call`: the distinct key/value pairs with a
// value that the call does not hold yet. An empty value (`note=`, a bare keyword `&sale`), a
// value the call has, and a pair the request repeats add nothing.
size_t CountNewTags(const Call& call, const Params& params);

// `params` with each key/value pair once, in the order first given: a request applies (and its
// answer echoes) a pair it repeats once.
Params DistinctPairs(const Params& params);

// Refuses (kUnprocessable, answered 422) a request whose new tag values (CountNewTags) would
// take the call past kMaxTagsPerCall; a request that adds nothing new always fits.
core::Result<void> CheckTagRoom(const Call& call, const Params& params);

// Adds key=value unless the call already has that exact pair; records it in `out`.
void AddTag(Call& call, std::string_view key, std::string_view value, TagSource source,
            core::Millis at, Outcome& out);

// ---- Start and routing.

// A tag a publisher wrote for the caller before the call (data writing).
struct PublisherTag {
  Id publisher_id = 0;
  std::string key;
  std::string value;
};

// What the caller of the edge knows about a new call.
struct StartInput {
  const config::Campaign* campaign = nullptr;  // required
  const config::Number* number = nullptr;      // when dialed through a tracking number
  std::optional<Id> publisher_id;              // else the number's
  std::string caller_number;                   // E.164 or empty (anonymous)
  Params edge_tags;                            // validated by the caller
  std::vector<PublisherTag> publisher_tags;    // stored for the caller; applied before routing
  core::Millis at = 0;
};

// The caller's previous call in the same campaign within the repeat window.
struct PreviousCall {
  std::optional<Id> buyer_id;
  std::vector<Tag> tags;
};

// Builds a new call: system, number, edge and carried tags; the `started` effect. A start
// time ahead of ctx.now is taken as ctx.now.
Call StartCall(std::string uuid, const StartInput& in, const std::optional<PreviousCall>& previous,
               const Context& ctx, Outcome& out);

// Chooses a buyer for the call: the campaign's buyers by priority (lower first), then by weight
// among equal priority (`random` picks), skipping buyers at their concurrency cap
// (`live_calls` counts each buyer's calls in progress). A repeat call prefers or avoids the
// previous buyer as the campaign says. With `sip_only` (the SIP edge's route lookup, which can
// hand the call to nothing else), buyers without a sip:/sips: address are passed over as a
// capped one is. nullopt when no buyer can take the call.
std::optional<Id> ChooseBuyer(const Call& call, const std::optional<PreviousCall>& previous,
                              const std::map<Id, int64_t>& live_calls, uint64_t random,
                              const Context& ctx, bool sip_only = false);

// ---- Events from the edge.

enum class EventType { kRouted, kAnswered, kEnded };

// `hung_up_by` of a call callpost closed because its end never came (--max-call-seconds). Its
// end time is assumed, so its talk time is unknown: 0, never computed from its times (not even
// when a late `answered` comes), and no duration group converts on it.
inline constexpr std::string_view kHungUpStale = "stale";

struct Event {
  EventType type = EventType::kEnded;
  core::Millis at = 0;
  std::optional<Id> buyer_id;               // routed
  std::optional<int64_t> duration_seconds;  // ended: the buyer leg's talk time if known
  std::string hung_up_by;                   // ended
  bool failed = false;  // ended: the call never connected (busy, cancelled, no route)
};

// Applies an event once: a repeated event changes nothing (Outcome::changed false). Events
// may arrive out of order; status only moves forward and timestamps are filled once. Ending
// a call decides its conversion group and may complete it (see conversions). The event's time
// is put in the call's order: at the start at the earliest, at ctx.now at the latest.
core::Result<Outcome> ApplyEvent(Call& call, const Event& event, const Context& ctx);

// ---- Buyer postbacks.

struct PostbackResult {
  Outcome outcome;
  std::string status;  // "tags applied", "conversion recorded", "already converted"
  Params tag_values;   // the tags this postback carried, each pair once
};

// Applies a buyer postback: adds its tags, and converts the call when the call's conversion
// group is a postback kind and the postback carries its value or keyword. Bad input (a value
// that is not an amount, too many or too long tags, reserved keys, new tag values past the
// call's limit: CheckTagRoom) is an error and changes nothing. `params` excludes the call key.
core::Result<PostbackResult> ApplyPostback(Call& call, const Params& params, const Context& ctx);

// ---- Tag filters.

// Whether `filter` (a conversion or webhook group's `matches`) fits the call's tags as they
// are now. The keys campaign_id, publisher_id, buyer_id and number_id always mean the system
// tags system_campaign_id, …, never a tag of that name posted by a buyer or an edge. The one
// test for conversion groups, webhook groups and the filter preview.
bool FilterMatches(const core::TagFilter& filter, const Call& call);

// ---- Webhooks.

// Adds to `out.deliveries` one delivery per request of every enabled webhook group of the
// call's campaign whose trigger is one of `out.effects` and whose filter fits the call now.
// Call after the step, before saving: the filter sees the call as the step left it.
void PlanDeliveries(const Call& call, const Context& ctx, Outcome& out);

// ---- Publisher data writing.

// Adds tags a publisher wrote about this call (attributed to `publisher_id`). Validated like
// postback tags (the call's limit counts only new values: CheckTagRoom); an error changes
// nothing.
core::Result<Outcome> ApplyPublisherTags(Call& call, const Params& tags, Id publisher_id,
                                         const Context& ctx);

// ---- Postback deadlines.

// Decides a call whose postback deadline has passed: not converted. Does nothing for a call
// that is no longer waiting (a conversion won the race) or whose deadline is in the future.
Outcome FireDeadline(Call& call, const Context& ctx);

}  // namespace engine
