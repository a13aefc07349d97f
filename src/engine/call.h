// A call as the engine sees it: identity, routing, timestamps, tags and conversion outcome.
// Plain values: the store loads and saves them, the engine changes them, nothing here does IO.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/money.h"
#include "core/time.h"

namespace engine {

using Id = int64_t;

// Ordered: a call's status only moves forward.
enum class Status { kStarted = 0, kRouted = 1, kAnswered = 2, kEnded = 3, kCompleted = 4 };

enum class ConversionState { kPending, kAwaitingPostback, kConverted, kNotConverted };

// Where a tag came from. Decides what repeat-caller carry-over may copy.
enum class TagSource { kSystem, kNumber, kEdge, kPostback, kCarried, kPublisher };

struct Tag {
  std::string key;
  std::string value;
  TagSource source = TagSource::kEdge;
  core::Millis at = 0;
  bool carried = false;  // copied from the caller's previous call; `source` is where it began
  std::optional<Id> publisher_id;  // the publisher that wrote it (data writing)
};

// Request parameters in the order received; a key may repeat.
using Params = std::vector<std::pair<std::string, std::string>>;

struct Conversion {
  ConversionState state = ConversionState::kPending;
  std::optional<Id> group_id;
  std::optional<core::Money> revenue;
  std::optional<core::Money> payout;
  bool late = false;
  std::optional<core::Millis> deadline_at;
  std::optional<core::Millis> decided_at;
};

struct Call {
  Id id = 0;  // store row id; 0 until inserted
  std::string uuid;
  Id account_id = 0;
  Id campaign_id = 0;
  std::optional<Id> publisher_id;
  std::optional<Id> buyer_id;
  std::optional<Id> number_id;
  std::string number;  // the dialed tracking number, E.164, may be empty
  std::string caller_number;
  std::string edge_call_id;  // the edge's own id for the call (SIP Call-ID, CPaaS call sid)
  bool repeat = false;
  Status status = Status::kStarted;
  core::Millis started_at = 0;
  std::optional<core::Millis> routed_at;
  std::optional<core::Millis> answered_at;
  std::optional<core::Millis> ended_at;
  std::optional<int64_t> duration_seconds;
  std::string hung_up_by;
  Conversion conversion;
  // Converting postbacks that came while the call's group could not be known yet (the call
  // live, or ended before its buyer was), in the order they came. Each converts in some group of
  // the campaign where none before it does. The first that converts in the group chosen at the
  // end (or once the buyer is known) is applied; the rest are dropped then.
  std::vector<Params> early_postbacks;
  std::vector<Tag> tags;  // in the order added

  // Every value of `key`, in the order added.
  std::vector<std::string> TagValues(std::string_view key) const;
  // True when this exact key/value pair is already on the call.
  bool HasTag(std::string_view key, std::string_view value) const;
};

// Something a change of the call makes happen: a webhook trigger, delivered by the outbox.
struct Effect {
  std::string trigger;  // started, routed, answered, ended, completed, converted, not_converted
  core::Millis at = 0;
};

// A webhook request to send because of an effect: one per (matching group, request).
struct PlannedDelivery {
  Id group_id = 0;
  int request_index = 0;
  std::string trigger;
  core::Millis at = 0;
  std::string webhook_id;  // "msg_…", the same on every attempt; set by the service
  // Set by the service when the dispatcher takes the delivery straight after the commit: it is
  // inserted already leased until then, so that no claim hands it out as well.
  std::optional<core::Millis> lease_until;
  Id id = 0;  // set by the store when it inserts the delivery
};

// What one engine step did, for the store to persist in the same transaction.
struct Outcome {
  bool changed = false;       // anything to save
  bool call_changed = false;  // the call's own fields (not only new tags)
  std::vector<Tag> new_tags;
  std::vector<Effect> effects;
  std::vector<PlannedDelivery> deliveries;  // filled by PlanDeliveries()
  enum class Timer { kKeep, kSet, kClear } timer = Timer::kKeep;
  core::Millis timer_at = 0;
};

const char* ToString(Status s);
const char* ToString(ConversionState s);
const char* ToString(TagSource s);
std::optional<TagSource> TagSourceFromString(std::string_view s);
std::optional<Status> StatusFromString(std::string_view s);
std::optional<ConversionState> ConversionStateFromString(std::string_view s);

}  // namespace engine
