// Configuration: accounts, API keys and the operator's objects. Validates and stores changes,
// and keeps the compiled snapshot that request handling reads. Changes made by another
// process or node are picked up by polling the store's configuration version.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <mutex>
#include <optional>

#include "config/snapshot.h"
#include "core/result.h"
#include "core/time.h"
#include "store/store.h"

namespace service {

using config::Id;

enum class Kind {
  kPublisher,
  kBuyer,
  kCampaign,
  kNumber,
  kConversionGroup,
  kWebhookGroup,
  kPublisherKey,
};

// "publishers", "buyers", ... (the API's collection names).
const char* CollectionName(Kind kind);

// A page of a list.
struct Page {
  boost::json::array data;
  std::optional<std::string> next_cursor;
};

struct NewAccount {
  config::Account account;
  std::string api_key;  // shown once; only its hash is kept
};

struct NewPublisherKey {
  config::PublisherKey key;
  std::string secret;  // shown once
};

// A publisher postback key found by its secret (ConfigService::FindPublisherKey).
struct PublisherKeyLookup {
  config::SnapshotPtr snapshot;               // the snapshot searched; never null
  const config::PublisherKey* key = nullptr;  // in *snapshot; null when no key has this secret
};

struct NewApiKey {
  config::ApiKey key;
  std::string secret;  // shown once
};

struct ConfigOptions {
  // Webhook URLs may name private and loopback hosts (`serve --allow-private-webhooks`). Off, a
  // URL whose host is such an address (or localhost) is refused when a group is saved.
  bool allow_private_webhooks = false;
};

// Thread-safe.
class ConfigService {
 public:
  ConfigService(store::Store& store, const core::Clock& clock, ConfigOptions options = {});

  // Immutable after construction.
  const ConfigOptions& options() const { return options_; }

  // Builds the snapshot from the store. Call once before serving; safe to call again.
  core::Result<void> Load();
  // Reloads when another process or node changed configuration.
  core::Result<void> ReloadIfChanged();
  // The current snapshot; never null after Load().
  config::SnapshotPtr snapshot() const;

  // The account owning this API key, or nullopt. Checks the store's version on a miss, so a
  // key created by `callpost accounts create` next to a running server works at once.
  std::optional<Id> Authenticate(std::string_view api_key);
  // The publisher postback key whose secret is `key` (a data-writing URL's), paused or not;
  // `key` is null when there is none. Checks the store's version on a miss, as Authenticate
  // does.
  PublisherKeyLookup FindPublisherKey(std::string_view key);

  core::Result<NewAccount> CreateAccount(const std::string& name);
  // The account CreateAccount(name) would make, or why `name` is refused; touches nothing.
  static core::Result<config::Account> AccountNamed(const std::string& name);
  core::Result<boost::json::object> GetAccount(Id account_id);
  core::Result<boost::json::object> UpdateAccount(Id account_id, const boost::json::object& body);
  core::Result<NewApiKey> CreateApiKey(Id account_id, const boost::json::object& body);
  core::Result<boost::json::array> ListApiKeys(Id account_id);
  core::Result<void> DeleteApiKey(Id account_id, Id id);
  // A publisher postback key for data writing ({"name","storage_seconds"}).
  core::Result<NewPublisherKey> CreatePublisherKey(Id account_id, Id publisher_id,
                                                   const boost::json::object& body);

  // Operator objects. `parent_id` is the campaign of a conversion group (0 otherwise); lists
  // filter by it when non-zero. Errors: kInvalidArgument naming the field, kNotFound (also for
  // another account's object), kConflict (a number in use, an object still referenced).
  core::Result<boost::json::object> Create(Kind kind, Id account_id, Id parent_id,
                                           const boost::json::object& body);
  core::Result<boost::json::object> Get(Kind kind, Id account_id, Id id);
  core::Result<boost::json::object> Update(Kind kind, Id account_id, Id id,
                                           const boost::json::object& body);
  core::Result<void> Delete(Kind kind, Id account_id, Id id);
  core::Result<Page> List(Kind kind, Id account_id, Id parent_id, Id after_id, int limit);
  // Replaces a webhook group's signing secret; the old one keeps signing (a second signature)
  // for `overlap_seconds`, so receivers can switch without losing a delivery.
  core::Result<boost::json::object> RotateWebhookSecret(Id account_id, Id id,
                                                        int64_t overlap_seconds);

 private:
  template <typename T>
  core::Result<boost::json::object> CreateT(Id account_id, Id parent_id,
                                            const boost::json::object& body);
  template <typename T>
  core::Result<boost::json::object> UpdateT(Id account_id, Id id, const boost::json::object& body);
  core::Result<void> CheckNotReferenced(const config::Snapshot& s, Kind kind, Id id);
  // The store's configuration version before and after a write of this service's.
  struct Versions {
    int64_t before = 0;
    int64_t after = 0;
  };
  core::Result<Versions> WriteConfig(const std::function<core::Result<void>(store::Writer&)>& fn);
  // After WriteConfig: publishes the current snapshot with `change` made (the objects written),
  // when it was built at the version the write started from; else, as when another node or
  // process changed the configuration meanwhile, or when `change` fails, loads it all again.
  // Under write_mu_.
  core::Result<void> Apply(Versions versions,
                           const std::function<core::Result<void>(config::Snapshot&)>& change);
  // Apply with one object written: the object as a load makes it from `row`, its stored form
  // (not the value encoded into it: a conversion group keeps no field of a type it left).
  template <typename T>
  core::Result<void> ApplyRow(Versions versions, store::ConfigRow row);

  store::Store& store_;
  const core::Clock& clock_;
  const ConfigOptions options_;
  std::mutex write_mu_;  // serialises validate → write → reload
  mutable std::mutex mu_;
  config::SnapshotPtr snapshot_;  // guarded by mu_
};

}  // namespace service
