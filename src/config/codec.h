// JSON <-> configuration objects. Decoding validates every field, compiles filters and
// modifiers, and checks references against a snapshot; encoding gives the API's shape, which
// is also the form stored in the database.
#pragma once

#include <boost/json/object.hpp>

#include "config/model.h"
#include "config/snapshot.h"
#include "core/result.h"

namespace config {

// How a decode is applied. On create, required fields must be present; on update (PATCH),
// absent fields keep the values of `base`. `refs` checks ids named in the object (buyers,
// campaigns, publishers) exist in base.account_id; nullptr skips the checks (stored rows).
struct DecodeContext {
  bool creating = true;
  const Snapshot* refs = nullptr;
  bool stored = false;  // decoding a stored row: internal fields (secrets) are read too
  // Off: a webhook URL whose host is a literal address that is not public (or localhost) is
  // refused (core::ClassifyHost). Stored rows are never refused for it; names are checked
  // when the dispatcher connects.
  bool allow_private_webhooks = false;
};

core::Result<Publisher> Decode(const boost::json::object& o, Publisher base,
                               const DecodeContext& c);
core::Result<Buyer> Decode(const boost::json::object& o, Buyer base, const DecodeContext& c);
core::Result<Campaign> Decode(const boost::json::object& o, Campaign base, const DecodeContext& c);
core::Result<Number> Decode(const boost::json::object& o, Number base, const DecodeContext& c);
core::Result<ConversionGroup> Decode(const boost::json::object& o, ConversionGroup base,
                                     const DecodeContext& c);
// A new signing secret is made when `sign` turns on; the stored form keeps the secrets.
core::Result<WebhookGroup> Decode(const boost::json::object& o, WebhookGroup base,
                                  const DecodeContext& c);
// name, storage_seconds, paused; the stored form also keeps prefix and hash.
core::Result<PublisherKey> Decode(const boost::json::object& o, PublisherKey base,
                                  const DecodeContext& c);
// Account settings (name, carry_over_postback_tags, call_key_ttl_seconds).
core::Result<Account> Decode(const boost::json::object& o, Account base, const DecodeContext& c);

boost::json::object Encode(const Publisher& p);
boost::json::object Encode(const Buyer& b);
boost::json::object Encode(const Campaign& c);
boost::json::object Encode(const Number& n);
boost::json::object Encode(const ConversionGroup& g);
// With signing_secret when sign is on (the API shows it to the operator; it is stored too).
boost::json::object Encode(const WebhookGroup& g);
boost::json::object Encode(const Account& a);
// With "hash" (the stored form); the API removes it.
boost::json::object Encode(const PublisherKey& k);
boost::json::object Encode(const ApiKey& k);

}  // namespace config
